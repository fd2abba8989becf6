"""Executing a run: claim it, collect each of its streams, and finish it.

Every step is idempotent: rows are upserted on their natural key, each page is
committed together with the run's checkpoint (`stream_pages`), and a run left RUNNING by
a dead worker is taken over where it stopped (`heartbeat`: whose run it is).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import redis.exceptions
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from connectors.collection import directory, queue, ratelimit, stream_pages
from connectors.collection.heartbeat import Heartbeat, LeaseLost, RunCancelled
from connectors.collection.recorder import Recorder
from connectors.models import ProjectEntry, RunStatus, StreamState, TaskRun
from connectors.openai.client import AdminClient, AuthenticationError, OpenAIError, TransientError
from connectors.openai.collector import Fetcher, window_start
from connectors.openai.plan import StreamQuery, estimate, stream_queries
from connectors.openai.retry import RetryPolicy
from connectors.openai.streams import UsageStream, request_count
from connectors.setup import crypto

log = logging.getLogger(__name__)

DIRECTORY_MAX_AGE = timedelta(hours=1)

# Errors of our own infrastructure, not of the run: the run goes back on the queue and
# resumes from its checkpoint instead of failing.
INFRASTRUCTURE_ERRORS = (
    OperationalError,
    InterfaceError,
    redis.exceptions.RedisError,
    ratelimit.TransientError,
)


def run_execute(run_id: int) -> None:
    run = queue.claim(run_id)
    if run is None:
        return
    with Heartbeat(run) as heartbeat:
        recorder = Recorder(run, heartbeat)
        recorder.note(f"Started (attempt {run.attempts}).")
        outcome = _execute(run, recorder)
    if outcome is not None:
        _finish(run, recorder, *outcome)
        queue.start_waiting(run.task)


def _execute(run: TaskRun, recorder: Recorder) -> tuple[str, str] | None:
    """Collect; the run's end as (status, message), or None when it must not be
    finished here (taken over by another worker, or put back on the queue)."""
    try:
        failed = _collect(run, recorder)
    except RunCancelled:
        return RunStatus.CANCELLED, "Cancelled by a user."
    except LeaseLost:
        log.warning("run %s was taken over by another worker; this one stops.", run.pk)
        return None
    except (OpenAIError, crypto.SecretError) as error:
        return RunStatus.FAILED, str(error)
    except INFRASTRUCTURE_ERRORS as error:
        _put_back(run, recorder, error)
        return None
    except Exception:
        log.exception("run %s failed", run.pk)
        return RunStatus.FAILED, "An internal error stopped the run; see the worker log."
    return _outcome(run, failed)


def _outcome(run: TaskRun, failed: dict[str, str]) -> tuple[str, str]:
    if not failed:
        return RunStatus.SUCCEEDED, "Succeeded."
    by_reason: dict[str, list[str]] = {}
    for kind, message in failed.items():
        by_reason.setdefault(message, []).append(kind)
    said = " ".join(f"{', '.join(kinds)}: {message}" for message, kinds in by_reason.items())
    if len(failed) == len(run.streams):
        return RunStatus.FAILED, said
    others = len(run.streams) - len(failed)
    return (
        RunStatus.PARTIAL,
        f"{others} of {len(run.streams)} streams collected; failed: {said}",
    )


def _put_back(run: TaskRun, recorder: Recorder, error: Exception) -> None:
    """The database or Redis went away for a moment: the run resumes from its
    checkpoint (now, if they are back; else once the stale-run reclaim finds it)."""
    what = "the database" if isinstance(error, OperationalError | InterfaceError) else "Redis"
    note = f"Lost {what} ({type(error).__name__}); the run resumes from its checkpoint."
    log.warning("run %s: %s %s", run.pk, note, error)
    stamp = timezone.now().strftime("%H:%M:%S")
    try:
        connection.close()
        queue.release(run, f"{stamp} {note}")
    except (DatabaseError, *queue.BROKER_ERRORS) as again:
        log.warning("run %s stays running until reclaimed: %s", run.pk, again)


def _finish(run: TaskRun, recorder: Recorder, status: str, message: str) -> None:
    """The run's end, and the high-water marks of the streams it collected whole, in one
    transaction that requires the lease."""
    recorder.note(message)
    run.status, run.finished_at = status, timezone.now()
    run.error = "" if status == RunStatus.SUCCEEDED else message
    fields = ["status", "finished_at", "error", "log", "streams", "checkpoint"]
    with transaction.atomic():
        held = TaskRun.objects.filter(pk=run.pk, lease=run.lease).update(
            **{name: getattr(run, name) for name in fields}
        )
        if held and status in (RunStatus.SUCCEEDED, RunStatus.PARTIAL):
            _advance_marks(run)


def _client(run: TaskRun, recorder: Recorder) -> AdminClient:
    connector = run.task.connector
    return AdminClient(
        connector.admin_key,
        connector.base_url,
        timeout=settings.OPENAI_TIMEOUT_SECONDS,
        before_request=recorder.before_request,
    )


def retry_policy() -> RetryPolicy:
    return RetryPolicy(
        attempts=settings.OPENAI_RETRY_ATTEMPTS, base_seconds=settings.OPENAI_RETRY_BASE_SECONDS
    )


def _stream_failure(error: OpenAIError) -> bool:
    """An error that fails one stream only: OpenAI refused the stream's query (400, a
    missing scope) or broke the contract in its answer. A rejected key (401) or OpenAI
    unreachable after every retry stops the whole run."""
    if isinstance(error, TransientError):
        return False
    return not (isinstance(error, AuthenticationError) and error.status == 401)


def _collect(run: TaskRun, recorder: Recorder) -> dict[str, str]:
    """Collect every stream of the task; the streams that failed, with their messages.
    A stream refused by OpenAI or broken by its answer fails alone; the others go on."""
    task = run.task
    queries = stream_queries(task.query_type, task.parameters)
    starts = {q.stream.type: _start(run, q) for q in queries if isinstance(q.stream, UsageStream)}
    _plan(run, queries, starts)
    names = bool(starts) and _directory_stale(task.connector)
    if names:  # projects, users, then each known project's keys and service accounts
        known = ProjectEntry.objects.filter(connector=task.connector, removed_at=None).count()
        run.requests_planned += 2 + 2 * known
    recorder.save()  # the plan is on the run page before the first request
    failed = {k: v.get("message", "") for k, v in run.streams.items() if v.get("failed")}
    with _client(run, recorder) as client:
        fetcher = Fetcher(
            client, retry_policy(), on_retry=recorder.on_retry, sleep=recorder.heartbeat.wait
        )
        if names:
            _refresh_names(run, recorder, fetcher)
        for query in queries:
            _collect_query(run, recorder, fetcher, query, starts, failed)
    return failed


def _refresh_names(run: TaskRun, recorder: Recorder, fetcher: Fetcher) -> None:
    """The directory behind a usage run's names; OpenAI refusing it is noted, and the
    run goes on without fresh names."""
    run.current_stream = "names"
    recorder.note("Refreshing the directory (projects, users, API keys) for names.")
    try:
        directory.refresh_all(fetcher, run.task.connector, recorder.names_page_done)
    except OpenAIError as error:
        if not _stream_failure(error):
            raise
        recorder.note(f"Names not refreshed: {error}")


def _collect_query(
    run: TaskRun,
    recorder: Recorder,
    fetcher: Fetcher,
    query: StreamQuery,
    starts: dict[str, datetime],
    failed: dict[str, str],
) -> None:
    """One stream, unless an earlier attempt finished it; a failure that is the stream's
    alone is added to `failed` and the run goes on."""
    kind = query.stream.type
    if run.checkpoint.get(kind, {}).get("done") or kind in failed:
        return
    recorder.stream(kind, "running")
    try:
        if isinstance(query.stream, UsageStream):
            stream_pages.collect_stream(run, recorder, fetcher, query, starts[kind])
        else:
            _collect_directory(run, recorder, fetcher, query)
    except OpenAIError as error:
        if not _stream_failure(error):
            raise
        failed[kind] = str(error)
        _stream_failed(run, recorder, kind, error)


def _plan(run: TaskRun, queries: list[StreamQuery], starts: dict[str, datetime]) -> None:
    """The requests each stream will make at least (a usage stream: pages of the largest
    size over its range; a directory list: one per page of 100), known before the first."""
    now = timezone.now()
    for query in queries:
        kind = query.stream.type
        entry = run.streams.setdefault(kind, {"status": "waiting", "done": 0})
        if kind in starts:
            end = min(query.end or now, now)
            planned = request_count(query.stream, query.width, starts[kind], end)
        else:
            planned = estimate(query, now).requests
        entry["planned"] = max(entry.get("done", 0) + planned, entry.get("planned", 0))
        if run.checkpoint.get(kind, {}).get("done"):
            entry["status"] = "done"
    run.requests_planned = max(
        run.requests_made
        + sum(max(e["planned"] - e.get("done", 0), 0) for e in run.streams.values()),
        run.requests_planned,
    )


def _stream_failed(run: TaskRun, recorder: Recorder, kind: str, error: OpenAIError) -> None:
    recorder.stream(kind, "failed", str(error))
    recorder.note(f"{kind} failed: {error}")
    excerpt = getattr(error, "excerpt", "")
    if excerpt:
        recorder.note(f"{kind} answered: {excerpt}")
    run.checkpoint = {**run.checkpoint, kind: {**run.checkpoint.get(kind, {}), "failed": True}}
    with transaction.atomic():
        recorder.save()


def _start(run: TaskRun, query: StreamQuery) -> datetime:
    state = StreamState.objects.filter(task=run.task, stream=query.stream.type).first()
    reached = run.checkpoint.get(query.stream.type, {}).get("reached")
    return window_start(
        query,
        state.high_water if state else None,
        datetime.fromisoformat(reached) if reached else None,
        run.task.lookback_minutes,
    )


def _directory_stale(connector) -> bool:
    refreshed = connector.directory_refreshed_at
    return refreshed is None or timezone.now() - refreshed > DIRECTORY_MAX_AGE


def _collect_directory(
    run: TaskRun, recorder: Recorder, fetcher: Fetcher, query: StreamQuery
) -> None:
    connector, kind = run.task.connector, query.stream.type
    run.current_stream, run.window_start, run.window_end = kind, None, None
    recorder.note(f"{kind}: listing.")
    if kind == "projects":
        directory.refresh_projects(
            fetcher, connector, recorder.page_done, query.filters.get("include_archived", True)
        )
    elif kind == "users":
        directory.refresh_users(
            fetcher, connector, recorder.page_done, query.filters.get("emails", ())
        )
    else:
        ids = query.filters.get("ProjectIds") or directory.refresh_projects(
            fetcher, connector, recorder.page_done
        )
        directory.refresh_project_members(fetcher, connector, ids, recorder.page_done)
    run.checkpoint = {**run.checkpoint, kind: {"done": True}}
    recorder.stream(kind, "done")
    recorder.save()


def _advance_marks(run: TaskRun) -> None:
    """A usage stream's high-water mark moves when the stream was collected whole; a
    failed stream's stays, so the next run reads its days again."""
    task = run.task
    for query in stream_queries(task.query_type, task.parameters):
        state = run.checkpoint.get(query.stream.type, {})
        if not isinstance(query.stream, UsageStream) or query.end is not None:
            continue
        if state.get("done") and not state.get("failed") and state.get("reached"):
            StreamState.objects.update_or_create(
                task=task,
                stream=query.stream.type,
                defaults={"high_water": datetime.fromisoformat(state["reached"])},
            )
