from __future__ import annotations

from django.conf import settings
from django.db import models


class Preference(models.Model):
    """A user's display preferences. Times are stored in UTC; shown in `time_zone`."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference"
    )
    time_zone = models.CharField(max_length=64, default="UTC")

    def __str__(self) -> str:
        return f"{self.user} ({self.time_zone})"
