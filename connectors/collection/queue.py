"""The run queue: enqueue, claim, cancel, reclaim runs whose worker is gone, and the
schedule's tick.

Every step is one conditional UPDATE or INSERT, so two workers or two clicks can never
both take or queue the same run.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from connectors.collection import schedule
from connectors.models import QueueBehaviour, RunStatus, RunTrigger, Task, TaskRun


def stale_after() -> timedelta:
    """No heartbeat for this long: the worker running it is gone."""
    return timedelta(seconds=settings.RUN_STALE_AFTER_SECONDS)


# --- queueing -----------------------------------------------------------------------


def run_enqueue(task: Task, trigger: str) -> tuple[TaskRun | None, str]:
    """Queue a run. With a run already going: "Don't start a new instance" refuses,
    "start one when the current ends" keeps (at most) one waiting."""
    from connectors import tasks  # the Celery tasks import this module

    active = task.runs.filter(status__in=(RunStatus.QUEUED, RunStatus.RUNNING))
    if active.exists() and task.queue_behaviour == QueueBehaviour.SKIP:
        return None, "A run of this task is already queued or running."
    try:
        with transaction.atomic():
            run = TaskRun.objects.create(task=task, trigger=trigger)
    except IntegrityError:
        return None, "A run of this task is already waiting to start."
    if not task.runs.filter(status=RunStatus.RUNNING).exists():
        tasks.task_run.delay_on_commit(run.pk)
    return run, ""


def run_cancel(run: TaskRun) -> None:
    """A queued run is cancelled at once; a running one stops after its current page."""
    TaskRun.objects.filter(pk=run.pk, status=RunStatus.QUEUED).update(
        status=RunStatus.CANCELLED, finished_at=timezone.now()
    )
    TaskRun.objects.filter(pk=run.pk, status=RunStatus.RUNNING).update(cancel_requested=True)


def claim(run_id: int) -> TaskRun | None:
    """Take a queued run, or a running one whose worker stopped beating. One UPDATE, so
    two workers given the same run cannot both take it."""
    now = timezone.now()
    claimable = Q(status=RunStatus.QUEUED) | Q(
        status=RunStatus.RUNNING, heartbeat_at__lt=now - stale_after()
    )
    try:
        with transaction.atomic():
            taken = TaskRun.objects.filter(claimable, pk=run_id, cancel_requested=False).update(
                status=RunStatus.RUNNING,
                started_at=now,
                heartbeat_at=now,
                attempts=F("attempts") + 1,
            )
    except IntegrityError:  # another run of the task is running: this one waits its turn
        return None
    return TaskRun.objects.select_related("task__connector").get(pk=run_id) if taken else None


def start_waiting(task: Task) -> None:
    from connectors import tasks

    waiting = task.runs.filter(status=RunStatus.QUEUED).values_list("pk", flat=True).first()
    if waiting:
        tasks.task_run.delay_on_commit(waiting)


# --- the beat tick ------------------------------------------------------------------


def reclaim_stale(now: datetime | None = None) -> list[int]:
    """Runs left RUNNING by a dead worker go back on the queue; they resume from their
    checkpoint."""
    from connectors import tasks

    cutoff = (now or timezone.now()) - stale_after()
    stale = list(
        TaskRun.objects.filter(status=RunStatus.RUNNING, heartbeat_at__lt=cutoff).values_list(
            "pk", flat=True
        )
    )
    for run_id in stale:
        tasks.task_run.delay(run_id)
    return stale


def schedule_tick(now: datetime | None = None) -> list[int]:
    """Queue a run for every task whose scheduled time has come; each time fires once."""
    now = now or timezone.now()
    fired = []
    for task in Task.objects.filter(schedule_enabled=True, schedule_start__lte=now):
        previous = task.schedule_fired_at or task.schedule_start - timedelta(microseconds=1)
        due = schedule.next_run(task, previous)
        if due is None or due > now:
            continue
        claimed = Task.objects.filter(pk=task.pk, schedule_fired_at=task.schedule_fired_at)
        if claimed.update(schedule_fired_at=now):  # missed times are not replayed
            run, _ = run_enqueue(task, RunTrigger.SCHEDULE)
            fired += [run.pk] if run else []
    return fired
