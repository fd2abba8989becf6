"""The task form: QUERY TYPE and that type's parameters by technical name, `all` with its
shared times, the request estimate's confirmation, and a saved task as initial values."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from django import forms

from connectors.models import Task
from connectors.openai.plan import format_time, params_for
from connectors.openai.streams import (
    END_TIME,
    QUERY_TYPES,
    START_TIME,
    STREAMS,
    Param,
    UsageStream,
)
from connectors.setup.estimate import RunEstimate, run_estimate
from connectors.setup.fields import param_field


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
