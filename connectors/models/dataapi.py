"""Keys for the Data API: read-only access to the collected tables over HTTP.

A key is shown once, when it is made, and never stored: the table keeps its public
prefix (to find the row) and the SHA-256 of its secret part (to check it).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from connectors.models.config import Connector


class DataApiKey(models.Model):
    """A Data API key. States: active → revoked (by a Data administrator), or expired
    once `expires_at` has passed; neither comes back."""

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)  # hex SHA-256 of the secret part
    # With `limited`, the key reads only `connectors` (none, once they are all deleted).
    limited = models.BooleanField(default=False)
    connectors = models.ManyToManyField(Connector, blank=True, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= timezone.now():
            return "expired"
        return "active"
