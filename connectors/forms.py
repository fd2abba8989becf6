"""Forms: they validate and normalise, nothing more."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.core.validators import EmailValidator, URLValidator

from connectors.collection.schedule import cron_is_valid
from connectors.models import IntervalUnit, Task
from connectors.openai.plan import format_time, params_for, parse_time
from connectors.openai.streams import QUERY_TYPES, STREAMS, Param, UsageStream

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
        help_text="ApiAdminKey",
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
            self.fields["admin_key"].help_text = "ApiAdminKey. Leave empty to keep the saved key."
        self.fields["base_url"].initial = settings.OPENAI_BASE_URL

    def clean_admin_key(self) -> str:
        key = self.cleaned_data["admin_key"].strip()
        if re.search(r"\s|[\x00-\x1f\x7f]", key):
            raise forms.ValidationError(
                "The ADMIN KEY contains spaces or line breaks: paste the key alone."
            )
        return key

    def clean_requests_per_minute(self) -> int:
        value = self.cleaned_data["requests_per_minute"]
        return 120 if value is None else value

    def clean_base_url(self) -> str:
        return self.cleaned_data["base_url"].strip().rstrip("/")


def _technical_hint(name: str, param: Param) -> str:
    return f"{name}. {param.help}" if param.help else name


def param_field(param: Param, name: str) -> forms.Field:
    """The form field of one task parameter; its help text starts with the technical name."""
    common = {"label": param.label, "help_text": _technical_hint(name, param), "required": False}
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


class TimeField(forms.Field):
    widget = forms.TextInput

    def to_python(self, value: Any) -> datetime | None:
        text = str(value or "").strip()
        if not text:
            return None
        if len(text) > 40:
            raise forms.ValidationError("A date or date-time is at most 40 characters.")
        try:
            return parse_time(text)
        except ValueError:
            raise forms.ValidationError(
                f"“{text[:40]}” is not a date (2024-01-01) or a date-time (2024-01-01T12:00Z)."
            ) from None


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


class TaskForm(forms.Form):
    """A task's name, QUERY TYPE and that type's parameters, named by technical name."""

    name = forms.CharField(label="TASK NAME", max_length=100, required=False)
    type = forms.ChoiceField(
        label="QUERY TYPE",
        choices=[("", "Choose a query type…"), *[(t, t) for t in QUERY_TYPES]],
        help_text="type",
        error_messages={"required": "Choose a QUERY TYPE."},
    )

    def __init__(self, *args: Any, query_type: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.query_type = query_type if query_type in QUERY_TYPES else ""
        for name, param in named_params(self.query_type):
            self.fields[name] = param_field(param, name)

    def sections(self) -> list[dict[str, Any]]:
        """For the template: each section's title and bound fields."""
        sections = []
        for prefix in section_prefixes(self.query_type):
            fields = [self[f"{prefix}-{p.suffix}"] for p in params_for(prefix)]
            invalid = any(field.errors for field in fields)
            sections.append({"prefix": prefix, "fields": fields, "invalid": invalid})
        return sections

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        for prefix in section_prefixes(self.query_type):
            self._check_range(prefix)
            self._check_grouping_since(prefix)
        return cleaned

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
    """A saved task's parameters as form initial values."""
    initial: dict[str, Any] = {"name": task.name, "type": task.query_type}
    for name, param in named_params(task.query_type):
        initial[name] = _initial_value(param, task.parameters.get(name))
    return initial


def _initial_value(param: Param, value: Any) -> Any:
    if param.kind == "tristate":
        return "" if value is None else str(value).lower()
    if param.kind in ("ids", "names", "emails"):
        return "\n".join(value or ())
    if param.kind == "bool":
        return True if value is None else value
    return value


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
            "schedule_start": "UTC. The first run; later runs follow the interval.",
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
        self.fields["interval_every"].widget.attrs.update({"min": 1, "max": 10000})

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        every = cleaned.get("interval_every")
        if every is not None and not 1 <= every <= 10000:
            self.add_error("interval_every", "Every must be between 1 and 10000.")
        if not cleaned.get("schedule_enabled"):
            return cleaned
        if not cleaned.get("schedule_start"):
            self.add_error("schedule_start", "A scheduled task needs a Start date.")
        unit = cleaned.get("interval_unit")
        cron = (cleaned.get("cron") or "").strip()
        if unit == IntervalUnit.CRON and not cron_is_valid(cron):
            self.add_error("cron", f"“{cron[:60]}” is not a valid five-field CRON expression.")
        cleaned["cron"] = cron
        return cleaned
