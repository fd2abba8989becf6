"""Show times in the user's own time zone (UTC unless they chose another)."""

from __future__ import annotations

import zoneinfo

from django.utils import timezone

from connectors.models import Preference


def user_time_zone(get_response):
    def middleware(request):
        zone = "UTC"
        if request.user.is_authenticated:
            zone = (
                Preference.objects.filter(user=request.user)
                .values_list("time_zone", flat=True)
                .first()
                or "UTC"
            )
        try:
            timezone.activate(zoneinfo.ZoneInfo(zone))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            timezone.activate(zoneinfo.ZoneInfo("UTC"))
        try:
            return get_response(request)
        finally:
            timezone.deactivate()

    return middleware
