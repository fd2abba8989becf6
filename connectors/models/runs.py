from __future__ import annotations

from django.db import models
from django.db.models import Q

from connectors.models.config import Task


class RunStatus(models.TextChoices):
    """queued → running → succeeded | partial | failed | cancelled; running → queued when
    a worker lost its database or Redis for a moment; queued → cancelled. A run left
    running by a dead worker is taken over by another (a new lease)."""

    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    PARTIAL = "partial", "Partly succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE = (RunStatus.QUEUED, RunStatus.RUNNING)


class RunTrigger(models.TextChoices):
    MANUAL = "manual", "Run now"
    SCHEDULE = "schedule", "Schedule"


class TaskRun(models.Model):
    """One execution of a task: its progress, counts, checkpoint, outcome and short log.

    `checkpoint` holds, per stream, the time collection has reached and whether the
    stream is done, so a run taken over from a dead worker resumes where it stopped.
    """

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="runs")
    # The run's place among its task's runs (1, 2, ...): "Run 2 of Daily completions".
    # The primary key, global to all tasks, appears only in URLs.
    number = models.PositiveIntegerField(default=0)
    trigger = models.CharField(max_length=10, choices=RunTrigger.choices)
    status = models.CharField(
        max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED, db_index=True
    )
    queued_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    requests_made = models.PositiveIntegerField(default=0)
    requests_planned = models.PositiveIntegerField(default=0)
    pages = models.PositiveIntegerField(default=0)
    rows_inserted = models.PositiveBigIntegerField(default=0)
    rows_updated = models.PositiveBigIntegerField(default=0)
    rows_unchanged = models.PositiveBigIntegerField(default=0)
    current_stream = models.CharField(max_length=40, blank=True)
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    checkpoint = models.JSONField(default=dict)
    # Per stream: {"status": "waiting|running|done|failed", "planned": n, "done": n,
    # "message": "..."}: what the run page shows stream by stream.
    streams = models.JSONField(default=dict)
    # The worker executing the run holds this token; every write of the run (each page's
    # transaction, the heartbeat, the finish) requires it, so a worker whose run was
    # taken over writes nothing more.
    lease = models.CharField(max_length=32, blank=True)
    # When the run's message last went to the broker (None: it never got there).
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    log = models.JSONField(default=list)

    class Meta:
        ordering = ["-queued_at", "-id"]
        constraints = [
            # At most one running and one waiting run per task, whatever triggers them.
            models.UniqueConstraint(
                fields=["task"], condition=Q(status="running"), name="one_running_run_per_task"
            ),
            models.UniqueConstraint(
                fields=["task"], condition=Q(status="queued"), name="one_queued_run_per_task"
            ),
        ]

    def __str__(self) -> str:
        return f"run {self.pk} of {self.task_id} ({self.status})"

    def save(self, *args, **kwargs) -> None:
        if not self.number and self.task_id:
            self.number = next_number(self.task_id)
        super().save(*args, **kwargs)

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE


def next_number(task_id: int) -> int:
    """The number the task's next run gets: one more than its highest so far."""
    highest = TaskRun.objects.filter(task_id=task_id).aggregate(n=models.Max("number"))["n"]
    return (highest or 0) + 1


class StreamState(models.Model):
    """Per task and stream: how far successful runs have collected (the high-water mark)."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="stream_states")
    stream = models.CharField(max_length=40)
    high_water = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["task", "stream"], name="one_state_per_task_stream")
        ]

    def __str__(self) -> str:
        return f"{self.stream} of task {self.task_id} up to {self.high_water:%Y-%m-%d %H:%M}"


class Coverage(models.Model):
    """A span of time a task has collected for one stream at one bucket width: written
    with each page, in the page's transaction, so it is exactly what the table holds.

    Adjacent and overlapping spans are merged; gaps (a failed run, an END TIME moved)
    stay gaps. The planner reads these to know which days a task can answer, and days
    without usage (no rows) are still known to be collected.
    """

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="coverage")
    stream = models.CharField(max_length=40)
    bucket_width = models.CharField(max_length=2)
    start = models.DateTimeField()
    end = models.DateTimeField()
    fetched_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["task", "stream", "bucket_width", "start"])]

    def __str__(self) -> str:
        return f"{self.stream} of task {self.task_id}: {self.start:%Y-%m-%d %H:%M} on"
