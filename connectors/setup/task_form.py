"""Forms: they validate and normalise, nothing more."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.core.validators import EmailValidator, URLValidator
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from connectors.collection.schedule import cron_problem
from connectors.explore.names import Name, line_items_seen, names_of
from connectors.models import DAILY_BY_TABLES, Connector, IntervalUnit, Task
from connectors.openai.client import key_character_problem
from connectors.openai.plan import estimate, format_time, params_for, parse_time, stream_queries
from connectors.openai.streams import (
    END_TIME,
    QUERY_TYPES,
    START_TIME,
    STREAMS,
    Param,
    UsageStream,
)

MAX_LIST_ITEMS = 100
MAX_ITEM_LENGTH = 100
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+\-]*$")


class ConnectorForm(forms.Form):
    name = forms.CharField(label="NAME", max_length=100)
    description = forms.CharField(
        label="DESCRIPTION", max_length=1000, required=False, widget=forms.Textarea({"rows": 3})
    )
    admin_key = forms.CharField(
        label="ADMIN KEY",
        max_length=300,
        strip=False,  # clean_admin_key strips plain whitespace only, and names the rest
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}, render_value=False),
    )
    base_url = forms.CharField(
        label="API BASE URL",
        max_length=300,
        help_text="For a proxy or the local emulator. Default: https://api.openai.com/v1",
        validators=[URLValidator(schemes=["http", "https"])],
    )

    requests_per_minute = forms.IntegerField(
        label="REQUESTS PER MINUTE",
        min_value=0,
        max_value=10000,
        initial=120,
        required=False,
        help_text="The most requests this connector sends to OpenAI per minute, shared by all "
        "workers. 0: no limit; empty: 120.",
    )

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if editing:
            self.fields["admin_key"].required = False
            self.fields[
                "admin_key"
            ].help_text = "Leave empty to keep the saved key (a new API BASE URL needs it again)."
            self.fields["base_url"].help_text = (
                "For a proxy or the local emulator. Changing it asks for the ADMIN KEY "
                "again: a key is only sent to the address it was checked at."
            )
        self.fields["admin_key"].technical_name = "ApiAdminKey"
        self.fields["base_url"].initial = settings.OPENAI_BASE_URL

    @property
    def base_url_changed(self) -> bool:
        """A submitted API BASE URL other than the one the form started with."""
        return self.is_bound and "base_url" in self.changed_data

    @sensitive_variables()  # Django's field cleaning below holds the typed key
    def full_clean(self) -> None:
        super().full_clean()

    def clean_admin_key(self) -> str:
        """Spaces and line breaks around a pasted key go silently; any other character
        that is not visible ASCII is named, with its position, and the key is refused."""
        key = self.cleaned_data["admin_key"].strip(" \t\n\r\x0b\x0c")
        if not key and self.fields["admin_key"].required:
            raise forms.ValidationError(self.fields["admin_key"].error_messages["required"])
        problem = key_character_problem(key)
        if problem:
            raise forms.ValidationError(
                f"The ADMIN KEY contains {problem}: paste it again without it."
            )
        return key

    def clean_requests_per_minute(self) -> int:
        value = self.cleaned_data["requests_per_minute"]
        return 120 if value is None else value

    def clean_base_url(self) -> str:
        return self.cleaned_data["base_url"].strip().rstrip("/")


def param_field(param: Param, name: str) -> forms.Field:
    """The form field of one task parameter. Its technical name is kept on the field and
    shown on demand; the hint is the parameter's help alone."""
    field = _bare_field(param, {"label": param.label, "help_text": param.help, "required": False})
    field.technical_name = name
    field.picker = param.narrows if param.kind in ("ids", "names") and param.narrows else ""
    return field


def _bare_field(param: Param, common: dict[str, Any]) -> forms.Field:
    if param.kind == "time":
        common["required"] = param.required
        return TimeField(
            error_messages={"required": f"{param.label} is required."},
            widget=forms.TextInput({"placeholder": "2024-01-01"}),
            **common,
        )
    if param.kind == "width":
        return forms.ChoiceField(choices=[(c, c) for c in param.choices], initial="1d", **common)
    if param.kind in ("groupby", "enum"):
        return forms.MultipleChoiceField(
            choices=[(c, c) for c in param.choices], widget=forms.CheckboxSelectMultiple, **common
        )
    if param.kind == "tristate":
        choices = [("", "both"), ("true", "true (batch only)"), ("false", "false (non-batch only)")]
        return forms.TypedChoiceField(choices=choices, coerce=lambda v: v == "true", **common)
    if param.kind == "bool":
        return forms.BooleanField(initial=True, **common)
    return ListField(param, widget=forms.Textarea({"rows": 2}), **common)


# OpenAI's usage and costs data start no earlier: the API opened in 2020. A START or
# END TIME before it is a typo (0001-01-01), and would plan a run of millions of requests.
EARLIEST_TIME = datetime(2020, 1, 1, tzinfo=UTC)


class TimeField(forms.Field):
    widget = forms.TextInput

    def to_python(self, value: Any) -> datetime | None:
        text = str(value or "").strip()
        if not text:
            return None
        if len(text) > 40:
            raise forms.ValidationError("A date or date-time is at most 40 characters.")
        try:
            moment = parse_time(text)
        except ValueError:
            raise forms.ValidationError(
                f"“{text[:40]}” is not a date (2024-01-01) or a date-time (2024-01-01T12:00Z)."
            ) from None
        except OverflowError:  # 9999-12-31T23:59-01:00 is after the year 9999 in UTC
            raise forms.ValidationError(_out_of_range(self.label, text)) from None
        if moment < EARLIEST_TIME:
            raise forms.ValidationError(_out_of_range(self.label, text))
        return moment


def _out_of_range(label: Any, text: str) -> str:
    return (
        f"{label} “{text[:40]}” is outside the range OpenAI has data for: use a date from "
        f"{EARLIEST_TIME:%Y-%m-%d} to today (UTC)."
    )


class ListField(forms.CharField):
    """A list typed one per line or comma-separated: trimmed, de-duplicated, checked."""

    def __init__(self, param: Param, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.param = param

    def to_python(self, value: Any) -> list[str]:
        text = super().to_python(value) or ""
        separator = r"[\r\n]+" if self.param.whole_lines else r"[,\s]+"
        items = list(dict.fromkeys(i.strip() for i in re.split(separator, text) if i.strip()))
        label = self.param.label
        if len(items) > MAX_LIST_ITEMS:
            raise forms.ValidationError(f"{label}: at most {MAX_LIST_ITEMS} entries.")
        for item in items:
            self._check(item, label)
        return items

    def _check(self, item: str, label: str) -> None:
        shown = item[:40]
        if len(item) > MAX_ITEM_LENGTH:
            raise forms.ValidationError(f"{label}: “{shown}…” is longer than {MAX_ITEM_LENGTH}.")
        prefix = self.param.id_prefix
        if prefix and not re.fullmatch(re.escape(prefix) + r"[A-Za-z0-9_\-]+", item):
            raise forms.ValidationError(f"{label}: “{shown}” is not an id of the form {prefix}….")
        if self.param.whole_lines and re.search(r"[\x00-\x1f\x7f]", item):
            raise forms.ValidationError(f"{label}: “{shown}” contains control characters.")
        plain_name = self.param.kind == "names" and not self.param.whole_lines
        if plain_name and not NAME_PATTERN.fullmatch(item):
            raise forms.ValidationError(f"{label}: “{shown}” is not a valid name.")
        if self.param.kind == "emails":
            try:
                EmailValidator()(item)
            except forms.ValidationError:
                raise forms.ValidationError(
                    f"{label}: “{shown}” is not an email address."
                ) from None


def section_prefixes(query_type: str) -> list[str]:
    """The form sections of a query type: one per stream for `all`, else one."""
    if query_type == "all":
        return list(STREAMS)
    return [query_type] if query_type in QUERY_TYPES else []


def named_params(query_type: str) -> Iterator[tuple[str, Param]]:
    """Every parameter of a query type with its technical name (`completions-StartTime`)."""
    for prefix in section_prefixes(query_type):
        for param in params_for(prefix):
            yield f"{prefix}-{param.suffix}", param


SHARED = ("StartTime", "EndTime", "BucketWidth")  # `all`: offered once, for every section
LARGE_REQUESTS = 1000  # a run above this many requests, or ...
LARGE_MINUTES = 10  # ... this many minutes, is confirmed before it is saved


@dataclass(frozen=True)
class RunEstimate:
    """The requests a full run makes and how long they take at the connector's rate."""

    requests: int
    rate: int  # requests per minute; 0: no limit

    @property
    def minutes(self) -> int:
        return math.ceil(self.requests / self.rate) if self.rate else 0

    @property
    def large(self) -> bool:
        return self.requests > LARGE_REQUESTS or self.minutes > LARGE_MINUTES

    @property
    def text(self) -> str:
        count = f"{self.requests:,} request{'s' if self.requests != 1 else ''}"
        if not self.rate:
            return f"{count}, no request limit set"
        return f"{count} ≈ {_duration(self.minutes)} at {self.rate:,} a minute"


def _duration(minutes: int) -> str:
    if minutes <= 1:
        return "1 min"
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{minutes} min"
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def run_estimate(parameters: dict[str, Any], rate: int, now: datetime) -> RunEstimate:
    queries = stream_queries(parameters["type"], parameters)
    return RunEstimate(sum(estimate(q, now).requests for q in queries), rate)


class TaskForm(forms.Form):
    """A task's name, QUERY TYPE and that type's parameters, named by technical name.

    With `all`, START TIME, END TIME and BUCKET WIDTH are asked once (`shared-...`) and
    each section may override them; clean() fills every section's own technical names
    from the shared values, so the stored parameters (and runs) are per section as ever.
    A run estimated as large must be confirmed (`confirm_requests` holds its count).
    """

    use_required_attribute = False  # the server explains what is missing, even in a
    # closed section the browser could not show its own message for

    name = forms.CharField(label="TASK NAME", max_length=100, required=False)
    type = forms.ChoiceField(
        label="QUERY TYPE",
        choices=[("", "Choose a query type…"), *[(t, t) for t in QUERY_TYPES]],
        error_messages={"required": "Choose a QUERY TYPE."},
    )
    confirm_requests = forms.CharField(label="REQUEST ESTIMATE", required=False, max_length=20)

    def __init__(
        self,
        *args: Any,
        query_type: str = "",
        rate: int = 0,
        saved: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.query_type = query_type if query_type in QUERY_TYPES else ""
        self.rate, self.saved = rate, saved
        self.estimate: RunEstimate | None = None
        self.confirm_needed = self.confirmed = False
        self.fields["type"].technical_name = "type"
        if self.query_type == "all":
            self._add_shared_fields()
        for name, param in named_params(self.query_type):
            self.fields[name] = param_field(param, name)
            if self.query_type == "all" and param.suffix in SHARED:
                _make_override(self.fields[name], param)

    def _add_shared_fields(self) -> None:
        widths = [(w, w) for w in ("1m", "1h", "1d")]
        for param in (START_TIME, END_TIME):
            field = param_field(param, f"shared-{param.suffix}")
            field.technical_name = f"fills <type>-{param.suffix} of each section left empty"
            self.fields[f"shared-{param.suffix}"] = field
        self.fields["shared-StartTime"].required = False  # clean() asks where none is set
        self.fields["shared-StartTime"].asked = True
        self.fields["shared-BucketWidth"] = forms.ChoiceField(
            label="BUCKET WIDTH",
            choices=widths,
            initial="1d",
            required=False,
            help_text="costs: always 1d.",
        )
        self.fields[
            "shared-BucketWidth"
        ].technical_name = "fills <type>-BucketWidth of each section left empty"

    def shared_fields(self) -> list[forms.BoundField]:
        return [self[f"shared-{s}"] for s in SHARED if f"shared-{s}" in self.fields]

    def sections(self) -> list[dict[str, Any]]:
        """For the template: each section's title, bound fields and what it overrides."""
        sections = []
        for prefix in section_prefixes(self.query_type):
            fields = [self[f"{prefix}-{p.suffix}"] for p in params_for(prefix)]
            invalid = any(field.errors for field in fields)
            own = [f.label for f in fields if f.name.split("-")[1] in SHARED and f.value()]
            sections.append({"prefix": prefix, "fields": fields, "invalid": invalid, "own": own})
        return sections

    def error_summary(self, *others: forms.Form) -> list[dict[str, str]]:
        """Every error with a link to its field, for the announcement above the form."""
        found = [{"href": "", "text": e} for e in self.non_field_errors()]
        for form in (self, *others):
            for name, errors in form.errors.items():
                if name == "__all__" or name not in form.fields:
                    continue
                field = form[name]
                where = name.partition("-")[0] if self.query_type == "all" else ""
                label = field.label
                label = f"{where} · {label}" if where in STREAMS else label
                found += [{"href": f"#{field.auto_id}", "text": f"{label}: {e}"} for e in errors]
        return found

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.query_type == "all":
            self._check_range("shared")
            self._fill_from_shared()
        for prefix in section_prefixes(self.query_type):
            if self.query_type != "all" or self._overrides_times(prefix):
                self._check_range(prefix)
            self._check_grouping_since(prefix)
        if not self.errors and self.query_type:
            self._check_confirmed()
        return cleaned

    def _fill_from_shared(self) -> None:
        """Every section's empty START TIME, END TIME and BUCKET WIDTH from the shared
        one; a START TIME missing in both is asked for once, at the shared field."""
        missing = False
        for name, param in named_params("all"):
            if param.suffix not in SHARED or self.cleaned_data.get(name):
                continue
            value = self.cleaned_data.get(f"shared-{param.suffix}")
            if param.kind == "width" and value not in param.choices:
                value = "1d"  # costs: 1d only, and the default where none is chosen
            self.cleaned_data[name] = value
            missing |= param.suffix == "StartTime" and not value
        if missing and "shared-StartTime" not in self.errors:
            self.add_error("shared-StartTime", "START TIME is required.")

    def _overrides_times(self, prefix: str) -> bool:
        return any(self.data.get(f"{prefix}-{s}") for s in ("StartTime", "EndTime"))

    def _check_confirmed(self) -> None:
        """A large run (a long backfill) is saved only once the user ticked that they
        understand its size; an edit that keeps the saved parameters is not asked again."""
        parameters = self.parameters()
        self.estimate = run_estimate(parameters, self.rate, datetime.now(UTC))
        unchanged = self.saved is not None and _same(self.saved, parameters)
        self.confirm_needed = self.estimate.large and not unchanged
        ticked = self.cleaned_data.get("confirm_requests")
        self.confirmed = ticked == str(self.estimate.requests)
        if not self.confirm_needed or self.confirmed:
            return
        self.add_error(
            "confirm_requests",
            f"A full run of this task makes {self.estimate.text}. Tick “I understand this "
            f"backfill makes {self.estimate.requests} requests” to save it, or narrow "
            "START TIME or BUCKET WIDTH.",
        )

    def _check_grouping_since(self, prefix: str) -> None:
        """Refuse a grouping OpenAI refuses for this START TIME (costs by api_key_id
        before 2025-12-06): saved, the task would fail at every run."""
        start = self.cleaned_data.get(f"{prefix}-StartTime")
        group_by = self.cleaned_data.get(f"{prefix}-GroupBy") or ()
        if not start:
            return
        fed = STREAMS.values() if prefix == "generic" else [STREAMS[prefix]]
        for stream in fed:
            refused = isinstance(stream, UsageStream) and stream.group_by_refused(
                group_by, int(start.timestamp())
            )
            if refused:
                self.add_error(f"{prefix}-StartTime", _refusal(stream, *refused))
                return

    def _check_range(self, prefix: str) -> None:
        start = self.cleaned_data.get(f"{prefix}-StartTime")
        end = self.cleaned_data.get(f"{prefix}-EndTime")
        now = datetime.now(UTC)
        end_of_today = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
        if start and start > now:
            self.add_error(f"{prefix}-StartTime", "START TIME is in the future.")
        if end and end > end_of_today:
            self.add_error(f"{prefix}-EndTime", "END TIME is after the end of today (UTC).")
        if start and end and end <= start:
            self.add_error(f"{prefix}-EndTime", "END TIME must be after START TIME.")

    def parameters(self) -> dict[str, Any]:
        """The parameters keyed by technical name, as stored and exported."""
        stored: dict[str, Any] = {"type": self.query_type}
        for name, param in named_params(self.query_type):
            stored[name] = _stored_value(param, self.cleaned_data.get(name))
        return stored


def _make_override(field: forms.Field, param: Param) -> None:
    """A section's own START TIME, END TIME or BUCKET WIDTH under `all`: empty means the
    shared value."""
    field.required = False
    field.help_text = f"Empty: the shared {param.label}."
    if param.kind == "width":
        field.choices = [("", "shared"), *field.choices]
        field.initial = ""
    else:
        field.widget.attrs["placeholder"] = "shared"


def _same(saved: dict[str, Any], parameters: dict[str, Any]) -> bool:
    return all(saved.get(name) == value for name, value in parameters.items())


def _refusal(stream: UsageStream, dimension: str, since: int) -> str:
    day = datetime.fromtimestamp(since, UTC).date().isoformat()
    what = stream.type.capitalize()
    return (
        f"{what} grouped by {dimension} are only available from {day} (UTC): OpenAI refuses "
        f"earlier days. Set START TIME to {day} or later, or remove {dimension} from GROUP "
        "BY and add a second task without it for the earlier days."
    )


def _stored_value(param: Param, value: Any) -> Any:
    if param.kind == "time":
        return format_time(value) if value else None
    if param.kind == "tristate":
        return None if value in ("", None) else value
    if param.kind == "width":
        return value or "1d"
    return value


def task_initial(task: Task) -> dict[str, Any]:
    """A saved task's parameters as form initial values. For `all`, the value most
    sections share becomes the shared one and only the sections that differ show theirs."""
    initial: dict[str, Any] = {"name": task.name, "type": task.query_type}
    for name, param in named_params(task.query_type):
        initial[name] = _initial_value(param, task.parameters.get(name))
    if task.query_type == "all":
        _initial_shared(initial)
    return initial


def _initial_shared(initial: dict[str, Any]) -> None:
    for suffix in SHARED:
        named = [(n, p) for n, p in named_params("all") if p.suffix == suffix]
        values = Counter(initial[n] for n, p in named if initial[n])
        shared = values.most_common(1)[0][0] if values else None
        initial[f"shared-{suffix}"] = shared
        for name, param in named:
            own = initial[name]
            narrower = param.kind == "width" and shared not in param.choices
            resolved = "1d" if narrower else shared  # costs: 1d only
            initial[name] = "" if own == resolved or not own else own


def _initial_value(param: Param, value: Any) -> Any:
    if param.kind == "tristate":
        return "" if value is None else str(value).lower()
    if param.kind in ("ids", "names", "emails"):
        return "\n".join(value or ())
    if param.kind == "bool":
        return True if value is None else value
    return value


# The pickers of the id fields: the directory column or usage column a dimension reads.
DIRECTORY_PICKERS = {"project_id": "projectId", "user_id": "userId", "api_key_id": "apiKeyId"}
SEEN_PICKERS = {"model": "model", "vector_store_id": "vectorStoreId"}


def task_pickers(connector: Connector) -> dict[str, list[str]]:
    """The choices the id fields offer by name ("Research (proj_abc)", archived and
    deleted entries marked): the connector's directory, the models and vector stores
    its usage tables have seen (from the small per-dimension daily rollups), and the
    line items of its newest costs rows."""
    directory = names_of(connector, dict.fromkeys(DIRECTORY_PICKERS.values()))
    pickers = {
        dimension: sorted(_option(i, name) for i, name in directory[column].items())
        for dimension, column in DIRECTORY_PICKERS.items()
    }
    for dimension, column in SEEN_PICKERS.items():
        seen: set[str] = set()
        for query_type, table in DAILY_BY_TABLES.items():
            if dimension in STREAMS[query_type].group_by:
                rows = table.objects.filter(connector=connector, dimension=column)
                seen |= set(rows.values_list(column, flat=True).distinct())
        pickers[dimension] = sorted(v for v in seen if v)
    pickers["line_item"] = line_items_seen(connector)
    return pickers


def _option(openai_id: str, name: Name) -> str:
    text = f"{name.text} ({openai_id})" if name.text != openai_id else openai_id
    return f"{text} · {name.state}" if name.state else text


class ScheduleForm(forms.ModelForm):
    class Meta:
        model = Task
        fields = [
            "schedule_enabled",
            "schedule_start",
            "interval_unit",
            "interval_every",
            "cron",
            "queue_behaviour",
        ]
        labels = {
            "schedule_enabled": "Enable automatic task execution",
            "schedule_start": "Start date",
            "interval_unit": "Interval",
            "interval_every": "Every",
            "cron": "CRON expression",
            "queue_behaviour": "When the previous run is still going",
        }
        help_texts = {
            "schedule_start": "The first run; later runs follow the interval.",
            "interval_every": "How many minutes, hours, days, weeks or months between runs.",
            "cron": "Five fields, UTC: minute hour day-of-month month day-of-week.",
        }
        widgets = {
            "schedule_start": forms.DateTimeInput(
                attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"
            ),
            "queue_behaviour": forms.RadioSelect,
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["interval_every"].min_value = 1
        # Django reads and shows a date-time in the active zone (the user's preference):
        # the label says which, so 07:00 means 07:00 where the user says it.
        zone = timezone.get_current_timezone_name()
        self.fields["schedule_start"].label = f"Start date ({zone})"
        self.fields["interval_every"].widget.attrs.update({"min": 1, "max": 10000})

    def clean(self) -> dict[str, Any]:
        """Every value is checked whether or not the schedule is enabled: a disabled
        schedule is enabled later with one tick, and then it must compute."""
        cleaned = super().clean()
        every = cleaned.get("interval_every")
        if every is not None and not 1 <= every <= 10000:
            self.add_error("interval_every", "Every must be between 1 and 10000.")
        cron = cleaned["cron"] = (cleaned.get("cron") or "").strip()
        enabled = cleaned.get("schedule_enabled")
        checked = cleaned.get("interval_unit") == IntervalUnit.CRON and (cron or enabled)
        if checked and (problem := cron_problem(cron)):
            self.add_error("cron", problem)
        if enabled and not cleaned.get("schedule_start") and "schedule_start" not in self.errors:
            self.add_error("schedule_start", "A scheduled task needs a Start date.")
        return cleaned
