"""Show times in the user's own time zone (UTC unless they chose another); refuse an
empty `_to_field` in the admin."""

from __future__ import annotations

import zoneinfo

from django.core.exceptions import BadRequest
from django.utils import timezone

from connectors.models import Preference

SESSION_KEY = "time_zone"


def _stored_zone(request) -> str:
    """Read once per session, then kept in it: not a query on every request."""
    zone = (
        Preference.objects.filter(user=request.user).values_list("time_zone", flat=True).first()
        or "UTC"
    )
    request.session[SESSION_KEY] = zone
    return zone


def user_time_zone(get_response):
    def middleware(request):
        zone = "UTC"
        if request.user.is_authenticated:
            zone = request.session.get(SESSION_KEY) or _stored_zone(request)
        try:
            timezone.activate(zoneinfo.ZoneInfo(zone))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            timezone.activate(zoneinfo.ZoneInfo("UTC"))
        try:
            return get_response(request)
        finally:
            timezone.deactivate()

    return middleware


def admin_empty_to_field(get_response):
    """Refuse an empty `_to_field` in the Django admin with a 400.

    The admin checks `_to_field` only when it is non-empty, then looks the empty name up
    as a field and fails with a server error. An empty value is never sent by the admin's
    own pages, so it is bad input, answered as such.
    """

    def middleware(request):
        if request.path_info.startswith("/admin/") and (
            request.GET.get("_to_field") == ""
            or (request.method == "POST" and request.POST.get("_to_field") == "")
        ):
            raise BadRequest("The _to_field parameter is empty.")
        return get_response(request)

    return middleware
