"""The user's own settings: the time zone times are shown in."""

from __future__ import annotations

import zoneinfo
from functools import cache

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from connectors.access import posted
from connectors.middleware import SESSION_KEY
from connectors.models import Preference


@cache
def zone_choices() -> list[tuple[str, str]]:
    return [(z, z) for z in sorted(zoneinfo.available_timezones()) if "/" in z or z == "UTC"]


class PreferenceForm(forms.Form):
    time_zone = forms.ChoiceField(
        label="TIME ZONE",
        choices=zone_choices,
        help_text="Times are stored in UTC and shown in this zone. Daily costs stay UTC days.",
    )


def preferences(request: HttpRequest) -> HttpResponse:
    preference, _ = Preference.objects.get_or_create(user=request.user)
    form = PreferenceForm(posted(request), initial={"time_zone": preference.time_zone})
    if request.method == "POST" and form.is_valid():
        preference.time_zone = form.cleaned_data["time_zone"]
        preference.save()
        request.session[SESSION_KEY] = preference.time_zone
        messages.success(request, f"Times are now shown in {preference.time_zone}.")
        return redirect("connectors:preferences")
    return render(request, "connectors/preferences.html", {"form": form})
