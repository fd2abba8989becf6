"""The connector form: name, admin key, API base URL and request rate; it validates and
normalises, nothing more."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.validators import URLValidator
from django.views.decorators.debug import sensitive_variables

from connectors.openai.client import key_character_problem


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
