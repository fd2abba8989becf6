from __future__ import annotations

from django.db import models

from connectors.collection.schedule import validate_start
from connectors.openai.streams import QUERY_TYPES
from connectors.setup import crypto
from connectors.setup.catalogue import CATALOGUE


class Connector(models.Model):
    """A configured connection to one OpenAI organization.

    The admin key is stored encrypted; only its last four characters are kept in clear
    (`key_hint`) for display.
    """

    kind = models.CharField(
        max_length=40, choices=[(slug, t.name) for slug, t in CATALOGUE.items()]
    )
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, max_length=1000)
    base_url = models.URLField(max_length=300)
    admin_key_encrypted = models.TextField(editable=False)
    key_hint = models.CharField(max_length=4, editable=False)
    key_checked_at = models.DateTimeField(null=True, blank=True, editable=False)
    key_verified_at = models.DateTimeField(null=True, blank=True, editable=False)
    key_error = models.TextField(blank=True, editable=False)
    directory_refreshed_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Shared by every worker: keeps a large backfill under OpenAI's rate limits.
    requests_per_minute = models.PositiveIntegerField(default=120)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def catalogue_entry(self):
        return CATALOGUE[self.kind]

    @property
    def admin_key(self) -> str:
        return crypto.decrypt(self.admin_key_encrypted)

    def set_admin_key(self, key: str) -> None:
        self.admin_key_encrypted = crypto.encrypt(key)
        self.key_hint = key[-4:]


class QueueBehaviour(models.TextChoices):
    SKIP = "skip", "Don't start a new instance"
    QUEUE = "queue", "Start a new instance when the current one ends"


class IntervalUnit(models.TextChoices):
    MINUTES = "minutes", "Minutes"
    HOURS = "hours", "Hours"
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"
    MONTHLY = "monthly", "Monthly"
    CRON = "cron", "Advanced (CRON expression)"


class Task(models.Model):
    """A collection job of a connector: a QUERY TYPE, its parameters and a schedule.

    `parameters` is keyed by technical name (`completions-StartTime`), exactly as the
    task form shows them.
    """

    connector = models.ForeignKey(Connector, on_delete=models.CASCADE, related_name="tasks")
    name = models.CharField(max_length=100, blank=True)
    query_type = models.CharField(max_length=40, choices=[(t, t) for t in QUERY_TYPES])
    parameters = models.JSONField(default=dict)
    schedule_enabled = models.BooleanField(default=False)
    schedule_start = models.DateTimeField(null=True, blank=True, validators=[validate_start])
    interval_unit = models.CharField(
        max_length=10, choices=IntervalUnit.choices, default=IntervalUnit.DAILY
    )
    interval_every = models.PositiveIntegerField(default=1)
    cron = models.CharField(max_length=100, blank=True)
    queue_behaviour = models.CharField(
        max_length=10, choices=QueueBehaviour.choices, default=QueueBehaviour.SKIP
    )
    # The last scheduled time the beat tick fired for, so each one fires once.
    schedule_fired_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Why the beat tick could not compute this task's schedule (empty once it can): the
    # task is skipped, the others run, and its page says why.
    schedule_error = models.TextField(blank=True, editable=False)
    # Incremental runs re-read this much before the high-water mark (late data).
    # Empty: 3 hours for 1m/1h buckets, 2 days for 1d usage, 3 days for costs.
    lookback_minutes = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        # By connector id, not "connector": that would mean the connector's own order
        # (its name), joining the connectors table into every list of tasks.
        ordering = ["connector_id", "id"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return self.name or f"{self.query_type} #{self.pk}"

    @property
    def time_range(self) -> str:
        """START TIME → END TIME in words, for lists."""
        if self.query_type == "all":
            return "per endpoint"
        start = self.parameters.get(f"{self.query_type}-StartTime")
        if not start:
            return "—"
        end = self.parameters.get(f"{self.query_type}-EndTime")
        return f"{start} → {end or 'now'}"
