"""The form fields of a task's parameters, one kind of field per kind of parameter: times,
lists of ids, names or emails, choices."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from django import forms
from django.core.validators import EmailValidator

from connectors.openai.plan import parse_time
from connectors.openai.streams import Param

MAX_LIST_ITEMS = 100
MAX_ITEM_LENGTH = 100
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+\-]*$")


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
