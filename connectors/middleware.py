"""Show times in the user's own time zone (UTC unless they chose another)."""

from __future__ import annotations

import zoneinfo

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
