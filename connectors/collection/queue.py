"""The run queue: enqueue, claim, cancel, reclaim runs whose worker is gone, and the
schedule's tick.

Every step is one conditional UPDATE or INSERT, so two workers or two clicks can never
both take or queue the same run.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from functools import partial

import kombu.exceptions
import redis.exceptions
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, OuterRef, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from connectors.collection import schedule
from connectors.models import QueueBehaviour, RunStatus, RunTrigger, Task, TaskRun
from connectors.models.runs import next_number
from datahub import celery_app

log = logging.getLogger(__name__)

# The Celery task that executes a run (tasks.py), sent by its name through the project's
# app so the dependency goes one way (tasks -> collection); the name is in messages
# already queued, so it stays. Not celery.current_app: any Celery() made later (a test's
# sender) becomes the current app.
TASK_RUN = "connectors.tasks.task_run"
BROKER_ERRORS = (kombu.exceptions.OperationalError, redis.exceptions.RedisError, OSError)
# A queued run with no message sent this long after it was queued is sent again.
UNSENT_AFTER = timedelta(seconds=10)


def resend_after() -> timedelta:
    """A queued run sent this long ago and still not started is sent again (its message
    may have been lost with the broker)."""
    return timedelta(seconds=settings.RUN_RESEND_AFTER_SECONDS)


def stale_after() -> timedelta:
    """No heartbeat for this long: the worker running it is gone."""
    return timedelta(seconds=settings.RUN_STALE_AFTER_SECONDS)


# --- queueing -----------------------------------------------------------------------

BROKER_DOWN = (
    "The run is queued, but the queue (Redis) cannot be reached right now: it starts as "
    "soon as the queue is back."
)


def run_enqueue(task: Task, trigger: str) -> tuple[TaskRun | None, str]:
    """Queue a run. With a run already going: "Don't start a new instance" refuses,
    "start one when the current ends" keeps (at most) one waiting.

    Returns the run (None when refused) and, in words, why it was refused or why it may
    start late (its message did not reach the broker: the beat tick sends it again)."""
    active = task.runs.filter(status__in=(RunStatus.QUEUED, RunStatus.RUNNING))
    if active.exists() and task.queue_behaviour == QueueBehaviour.SKIP:
        return None, "A run of this task is already queued or running."
    try:
        with transaction.atomic():
            # The task's row lock serializes enqueues, so each run gets the next number.
            Task.objects.select_for_update().filter(pk=task.pk).exists()
            run = TaskRun.objects.create(task=task, trigger=trigger, number=next_number(task.pk))
    except IntegrityError:
        return None, "A run of this task is already waiting to start."
    if task.runs.filter(status=RunStatus.RUNNING).exists():
        return run, ""  # started when the running one ends
    if connection.in_atomic_block:  # the worker must find the run: send after the commit
        transaction.on_commit(partial(send, run.pk))
        return run, ""
    return run, "" if send(run.pk) else BROKER_DOWN


def send(run_id: int) -> bool:
    """Hand the run to the broker; False (and nothing raised) when the broker is down.
    A run whose message never arrived stays queued with no `sent_at`; the beat tick's
    outbox sends it again."""
    try:
        celery_app.send_task(TASK_RUN, (run_id,), retry=False)
    except BROKER_ERRORS as error:
        log.warning("Could not send run %s to the broker: %s", run_id, error)
        return False
    TaskRun.objects.filter(pk=run_id).update(sent_at=timezone.now())
    return True


def run_cancel(run: TaskRun) -> None:
    """A queued run is cancelled at once; a running one stops within seconds (its worker
    reads the request with each heartbeat and before each request)."""
    TaskRun.objects.filter(pk=run.pk, status=RunStatus.QUEUED).update(
        status=RunStatus.CANCELLED, finished_at=timezone.now()
    )
    TaskRun.objects.filter(pk=run.pk, status=RunStatus.RUNNING).update(cancel_requested=True)


def claim(run_id: int) -> TaskRun | None:
    """Take a queued run, or a running one whose worker stopped beating, with a new
    lease. One UPDATE, so two workers given the same run cannot both take it; the old
    worker's lease no longer matches, so it cannot write to the run again."""
    now = timezone.now()
    claimable = Q(status=RunStatus.QUEUED) | Q(
        status=RunStatus.RUNNING, heartbeat_at__lt=now - stale_after()
    )
    lease = uuid.uuid4().hex
    try:
        with transaction.atomic():
            taken = TaskRun.objects.filter(claimable, pk=run_id, cancel_requested=False).update(
                status=RunStatus.RUNNING,
                started_at=Coalesce(F("started_at"), Value(now)),
                heartbeat_at=now,
                attempts=F("attempts") + 1,
                lease=lease,
            )
    except IntegrityError:  # another run of the task is running: this one waits its turn
        return None
    if not taken:
        return None
    return TaskRun.objects.select_related("task__connector").get(pk=run_id, lease=lease)


def release(run: TaskRun, note: str) -> bool:
    """Put a running run back on the queue at once, keeping its checkpoint (the worker
    lost its database or Redis for a moment). False when this worker no longer holds
    the run, or another run of the task is already waiting: then the stale-run reclaim
    takes it over once its heartbeat is old."""
    try:
        with transaction.atomic():
            released = TaskRun.objects.filter(
                pk=run.pk, lease=run.lease, status=RunStatus.RUNNING
            ).update(status=RunStatus.QUEUED, lease="", sent_at=None, log=[*run.log, note][-200:])
    except IntegrityError:
        return False
    return bool(released) and send(run.pk)


def start_waiting(task: Task) -> None:
    waiting = task.runs.filter(status=RunStatus.QUEUED).values_list("pk", flat=True).first()
    if waiting:
        send(waiting)


# --- the beat tick ------------------------------------------------------------------


def reclaim_stale(now: datetime | None = None) -> list[int]:
    """Runs left RUNNING by a dead worker are sent again; the worker that takes one
    resumes it from its checkpoint under a new lease."""
    cutoff = (now or timezone.now()) - stale_after()
    stale = list(
        TaskRun.objects.filter(status=RunStatus.RUNNING, heartbeat_at__lt=cutoff).values_list(
            "pk", flat=True
        )
    )
    for run_id in stale:
        send(run_id)
    return stale


def resend_queued(now: datetime | None = None) -> list[int]:
    """The outbox: a queued run that can start (no other run of its task is running)
    but whose message never reached the broker, or went there long ago and was lost
    with a broker restart, is sent again. A second message for a run is harmless: only
    one claim can take it."""
    now = now or timezone.now()
    running = TaskRun.objects.filter(task=OuterRef("task"), status=RunStatus.RUNNING)
    due = TaskRun.objects.filter(status=RunStatus.QUEUED).filter(
        Q(sent_at__isnull=True, queued_at__lt=now - UNSENT_AFTER)
        | Q(sent_at__lt=now - resend_after())
    )
    ids = list(due.exclude(Exists(running)).values_list("pk", flat=True))
    return [run_id for run_id in ids if send(run_id)]


def schedule_tick(now: datetime | None = None) -> list[int]:
    """Queue a run for every task whose scheduled time has come; each time fires once.

    Each task is handled on its own: one whose schedule cannot be computed, or whose
    run cannot be queued, is skipped with the reason stored on it (its page shows it),
    and the tasks after it still run."""
    now = now or timezone.now()
    fired = []
    for task in _scheduled(now):
        try:
            with transaction.atomic():  # a failed statement rolls back this task alone
                fired += _fire_if_due(task, now)
        except schedule.ScheduleError as error:
            _schedule_failed(task, f"The schedule cannot be computed: {error}")
        except Exception as error:  # one task must never stop the others
            log.exception("The scheduled run of task %s could not be queued", task.pk)
            _schedule_failed(
                task,
                f"The scheduled run could not be queued ({type(error).__name__}); the next "
                "tick tries again.",
            )
        else:
            if task.schedule_error:
                Task.objects.filter(pk=task.pk).update(schedule_error="")
    return fired


UNREADABLE_START = (
    "The schedule cannot be computed: its Start date lies at the very start of the "
    "calendar, before the dates the scheduler can count in. Edit the schedule: set a "
    f"Start date from {schedule.EARLIEST_START:%Y-%m-%d} on."
)


def _scheduled(now: datetime):
    """The enabled tasks whose Start date has come. A start the database holds but
    Python cannot read (before year 1 in UTC) is marked in SQL, never loaded: loading
    it would fail the whole query."""
    earliest = schedule.COMPUTABLE[0]
    unreadable = Task.objects.filter(schedule_enabled=True, schedule_start__lt=earliest)
    unreadable.exclude(schedule_error=UNREADABLE_START).update(schedule_error=UNREADABLE_START)
    return Task.objects.filter(
        schedule_enabled=True, schedule_start__gte=earliest, schedule_start__lte=now
    )


def _fire_if_due(task: Task, now: datetime) -> list[int]:
    previous = task.schedule_fired_at or task.schedule_start - timedelta(microseconds=1)
    due = schedule.next_run(task, previous)
    if due is None or due > now:
        return []
    claimed = Task.objects.filter(pk=task.pk, schedule_fired_at=task.schedule_fired_at)
    if not claimed.update(schedule_fired_at=now):  # missed times are not replayed
        return []
    run, _ = run_enqueue(task, RunTrigger.SCHEDULE)
    return [run.pk] if run else []


def _schedule_failed(task: Task, error: str) -> None:
    log.warning("Schedule of task %s skipped: %s", task.pk, error)
    Task.objects.filter(pk=task.pk).update(schedule_error=error)
