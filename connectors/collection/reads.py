"""Reads about runs: histories, the task tree with each task's last and next run, and the
scheduled runs coming up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import OuterRef, Prefetch, QuerySet, Subquery

from connectors.collection import schedule
from connectors.models import Connector, Task, TaskRun
from connectors.openai.streams import STREAMS


@dataclass(frozen=True)
class Upcoming:
    when: datetime
    task: Task


def run_list() -> QuerySet[TaskRun]:
    """Runs newest first, with what a history row names."""
    return TaskRun.objects.select_related("task__connector")


def run_duration(run: TaskRun, now: datetime) -> timedelta | None:
    """How long the run took, or has taken so far; None before it starts."""
    if run.started_at is None:
        return None
    return (run.finished_at or now) - run.started_at


def duration_text(duration: timedelta | None) -> str:
    if duration is None:
        return ""
    seconds = max(0, int(duration.total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {seconds:02d} s"
    return f"{seconds} s"


def described(runs, now: datetime) -> list[TaskRun]:
    """The runs, each given what every view of a run reads, so the progress bar, the run
    page and a history row show the same figures: `duration` (elapsed so far while it
    runs) in words, `percent` of the planned requests made, the `endpoint` it is
    collecting, `stream_rows`, the `rate` a minute and the `eta` in words."""
    runs = list(runs)
    for run in runs:
        run.duration = duration_text(run_duration(run, now))
        planned = max(run.requests_planned, run.requests_made)
        run.percent = min(100, run.requests_made * 100 // planned) if planned else 0
        stream = STREAMS.get(run.current_stream)
        run.endpoint = stream.path if stream else run.current_stream
        run.stream_rows = stream_rows(run)
        run.rate, run.eta = _pace(run, now)
    return runs


STREAM_STATUS = {
    "waiting": "Waiting",
    "running": "Collecting",
    "done": "Collected",
    "failed": "Failed",
}


@dataclass(frozen=True)
class StreamRow:
    kind: str
    path: str
    status: str
    label: str
    done: int
    planned: int
    message: str


def stream_rows(run: TaskRun) -> list[StreamRow]:
    """The run's streams in the order they are collected, each with its status."""
    rows = []
    order = {kind: i for i, kind in enumerate(STREAMS)}  # the order a run collects them
    streams = sorted((run.streams or {}).items(), key=lambda item: order.get(item[0], 99))
    for kind, entry in streams:
        stream = STREAMS.get(kind)
        status = "failed" if entry.get("failed") else entry.get("status", "waiting")
        rows.append(
            StreamRow(
                kind,
                stream.path if stream else kind,
                status,
                STREAM_STATUS.get(status, status),
                entry.get("done", 0),
                entry.get("planned", 0),
                entry.get("message", ""),
            )
        )
    return rows


MEASURED_AFTER_SECONDS = 5


def _pace(run: TaskRun, now: datetime) -> tuple[float | None, str]:
    """Requests a minute so far and, while running, the time left.

    The pace is the observed one once the run has gone a few seconds, never faster than
    the connector's REQUESTS PER MINUTE; before that, the connector's limit itself."""
    elapsed = run_duration(run, now)
    limit = run.task.connector.requests_per_minute  # 0: no limit
    observed = None
    measured = elapsed is not None and elapsed.total_seconds() >= MEASURED_AFTER_SECONDS
    if measured and run.requests_made:
        observed = run.requests_made / elapsed.total_seconds() * 60
    pace = min(observed, limit) if observed and limit else observed or limit or None
    left = max(run.requests_planned - run.requests_made, 0)
    if run.status != "running" or not left or not pace:
        return observed, ""
    return observed, duration_text(timedelta(minutes=left / pace))


def task_tree(now: datetime) -> list[Connector]:
    """Every connector with its tasks; each task carries `last_run`, `next_run` and
    `schedule_problem` (why its next run cannot be computed)."""
    newest = TaskRun.objects.filter(task=OuterRef("pk")).order_by("-queued_at", "-id")
    tasks = Task.objects.annotate(last_run_pk=Subquery(newest.values("pk")[:1]))
    connectors = list(Connector.objects.prefetch_related(Prefetch("tasks", queryset=tasks)))
    all_tasks = [task for connector in connectors for task in connector.tasks.all()]
    last_runs = TaskRun.objects.in_bulk([t.last_run_pk for t in all_tasks if t.last_run_pk])
    for task in all_tasks:
        task.last_run = last_runs.get(task.last_run_pk)
        forecast = schedule.forecast(task, now, count=1)
        task.next_run, task.schedule_problem = forecast.next, forecast.problem
    return connectors


def upcoming_runs(now: datetime, per_task: int = 3, limit: int = 15) -> list[Upcoming]:
    """The next few scheduled runs of every task, merged in time order."""
    scheduled = Task.objects.filter(schedule_enabled=True).select_related("connector")
    merged = [
        Upcoming(when, task)
        for task in scheduled
        for when in schedule.upcoming(task, now, per_task)
    ]
    return sorted(merged, key=lambda u: (u.when, u.task.pk))[:limit]
