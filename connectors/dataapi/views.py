"""The settings pages of the Data API: its keys (Data administrators) and its docs."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from connectors.access import posted, require_staff
from connectors.dataapi import keys
from connectors.dataapi.filters import OPERATORS
from connectors.dataapi.limits import per_minute
from connectors.dataapi.reads import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from connectors.dataapi.tables import tables
from connectors.models import Connector, DataApiKey


class ConnectorsField(forms.ModelMultipleChoiceField):
    """Connectors ticked by id. An id beyond a 64-bit integer is not one of the choices:
    Django would ask the database for it, and SQLite cannot even bind it (a 500 on the
    embedded default)."""

    def clean(self, value):
        for pk in value or ():
            try:
                number = int(pk)
            except (TypeError, ValueError):
                continue  # not a number: Django's own check names it
            if not -(2**63) <= number < 2**63:
                raise forms.ValidationError(
                    self.error_messages["invalid_choice"], "invalid_choice", {"value": pk}
                )
        return super().clean(value)


class KeyForm(forms.Form):
    name = forms.CharField(
        label="NAME", max_length=100, help_text="What reads with it, e.g. “Finance warehouse”."
    )
    expires = forms.DateField(
        label="EXPIRES",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Optional: the key stops working at the start of this day (UTC).",
    )
    connectors = ConnectorsField(
        label="CONNECTORS",
        queryset=Connector.objects.order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Optional: only these connectors' rows. None ticked: every connector.",
    )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the key a name.")
        return name

    def clean_expires(self) -> datetime | None:
        day = self.cleaned_data.get("expires")
        if day is None:
            return None
        moment = datetime.combine(day, time.min, tzinfo=UTC)
        if moment <= timezone.now():
            raise forms.ValidationError("Pick a day after today (UTC).")
        return moment


@never_cache  # the answer that shows a new key must not stay in any cache
def api_keys(request: HttpRequest) -> HttpResponse:
    require_staff(request)
    form = KeyForm(posted(request))
    created = None
    if request.method == "POST" and form.is_valid():
        created = keys.key_create(
            form.cleaned_data["name"],
            created_by=request.user,
            expires_at=form.cleaned_data["expires"],
            connectors=list(form.cleaned_data["connectors"]),
        )
        form = KeyForm()  # the key is shown once, on this answer; no redirect keeps it
    found = DataApiKey.objects.prefetch_related("connectors").select_related("created_by")
    context = {"form": form, "keys": found, "created": created, "rate": per_minute()}
    return render(request, "dataapi/apikey_list.html", context)


@require_POST
def api_key_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    require_staff(request)
    key = get_object_or_404(DataApiKey, pk=pk)
    keys.key_revoke(key)
    messages.success(request, f"The key “{key.name}” is revoked: it no longer reads anything.")
    return redirect("connectors:api-keys")


def data_api(request: HttpRequest) -> HttpResponse:
    """How to read the tables: endpoint, envelope, filters, limits, examples."""
    example = reverse("dataapi:paged", args=["completions"])
    base = request.build_absolute_uri(example.removesuffix("completions/paged"))
    context = {
        "base": base,
        "openapi": request.build_absolute_uri(reverse("dataapi:openapi")),
        "focus": request.build_absolute_uri(reverse("dataapi:focus-costs")),
        "tables": tables().values(),
        "operators": OPERATORS,
        "default_size": DEFAULT_PAGE_SIZE,
        "max_size": MAX_PAGE_SIZE,
        "rate": per_minute(),
        "example_since": (timezone.now() - timedelta(days=7)).date().isoformat(),
    }
    return render(request, "dataapi/data_api.html", context)
