"""Executing a run, page by page.

Every step is idempotent: rows are upserted on their natural key, each page is
committed together with the run's checkpoint, and a run left RUNNING by a dead worker is
taken over where it stopped.
"""

from __future__ import annotations

import ctypes
import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import partial

import redis.exceptions
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from connectors import coverage
from connectors.collection import directory, queue, ratelimit
from connectors.models import (
    USAGE_TABLES,
    ProjectEntry,
    RunStatus,
    StreamState,
    TaskRun,
)
from connectors.openai import rollup
from connectors.openai.client import (
    AdminClient,
    AuthenticationError,
    OpenAIError,
    TransientError,
)
from connectors.openai.collector import (
    Fetcher,
    Window,
    collect_window,
    usage_windows,
    window_start,
)
from connectors.openai.persistence import Counts, Rows, usage_rows
from connectors.openai.plan import StreamQuery, estimate, stream_queries
from connectors.openai.prefetch import in_order
from connectors.openai.retry import RetryPolicy
from connectors.openai.streams import UsageStream, request_count
from connectors.openai.writer import Prepared, column_types, prepare, write_rows
from connectors.setup import crypto

log = logging.getLogger(__name__)
_LIBC = ctypes.CDLL("libc.so.6") if sys.platform.startswith("linux") else None

DIRECTORY_MAX_AGE = timedelta(hours=1)


LOG_LINES = 200


class Stopped(Exception):
    """The run must stop at once: a user cancelled it, or another worker took it over."""


class RunCancelled(Stopped):
    pass


class LeaseLost(Stopped):
    """Another worker took the run over (this one was thought dead): write nothing more."""


# Errors of our own infrastructure, not of the run: the run goes back on the queue and
# resumes from its checkpoint instead of failing.
INFRASTRUCTURE_ERRORS = (
    OperationalError,
    InterfaceError,
    redis.exceptions.RedisError,
    ratelimit.TransientError,
)


# --- executing ----------------------------------------------------------------------


class Heartbeat:
    """A thread that writes the run's heartbeat every RUN_HEARTBEAT_SECONDS, whatever the
    run is doing (fetching, waiting on a Retry-After or the rate limit, writing), and
    reads back whether a user asked to cancel and whether this worker still holds the
    lease. The run's threads call `check()` before each request and sleep on `wait()`,
    so a Cancel or a takeover stops them within seconds."""

    def __init__(self, run: TaskRun) -> None:
        self.run_id, self.lease = run.pk, run.lease
        self.interval = settings.RUN_HEARTBEAT_SECONDS
        self.reason: type[Stopped] | None = None
        self._stopping = threading.Event()
        self._ended = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="run-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._ended.set()
        self._thread.join()

    def _beat(self) -> None:
        try:
            while not self._ended.wait(self.interval):
                self.beat()
        finally:
            connection.close()  # this thread's own connection

    def beat(self) -> None:
        try:
            found = TaskRun.objects.filter(pk=self.run_id).values_list("lease", "cancel_requested")
            lease, cancelled = found.first() or (self.lease, False)  # not visible: go on
            if lease == self.lease:
                TaskRun.objects.filter(pk=self.run_id, lease=self.lease).update(
                    heartbeat_at=timezone.now()
                )
        except DatabaseError as error:  # the run's own thread meets it too, and decides
            log.warning("run %s: heartbeat not written: %s", self.run_id, error)
            connection.close()
            return
        if lease != self.lease:
            self.stop(LeaseLost)
        elif cancelled:
            self.stop(RunCancelled)

    def stop(self, reason: type[Stopped]) -> None:
        self.reason = self.reason or reason
        self._stopping.set()

    def check(self) -> None:
        if self.reason is not None:
            raise self.reason

    def wait(self, seconds: float) -> None:
        """Sleep, but wake and stop as soon as the run must stop."""
        if self._stopping.wait(max(seconds, 0)):
            self.check()


class Recorder:
    """The run's counters in memory, saved with each page in the page's transaction."""

    def __init__(self, run: TaskRun, heartbeat: Heartbeat) -> None:
        self.run = run
        self.connector = run.task.connector
        self.heartbeat = heartbeat
        self._lock = threading.Lock()  # the fetch threads count and note too

    def before_request(self) -> None:
        """Runs on the page fetch threads too: no database here, only counting."""
        self.heartbeat.check()
        ratelimit.acquire(
            self.connector.pk, self.connector.requests_per_minute, sleep=self.heartbeat.wait
        )
        self.heartbeat.check()
        with self._lock:
            self.run.requests_made += 1
            # Directory listings have no count known in advance: the plan grows with them.
            self.run.requests_planned = max(self.run.requests_planned, self.run.requests_made)
            entry = self.run.streams.get(self.run.current_stream)
            if entry is not None:
                entry["done"] = entry.get("done", 0) + 1
                entry["planned"] = max(entry.get("planned", 0), entry["done"])

    def on_retry(self, error: OpenAIError, delay: float) -> None:
        self.note(f"{error.message} Retrying in {delay:.1f} s.")

    def note(self, message: str) -> None:
        stamp = timezone.now().strftime("%H:%M:%S")
        with self._lock:
            self.run.log = [*self.run.log, f"{stamp} {message}"][-LOG_LINES:]

    def stream(self, kind: str, status: str, message: str = "") -> None:
        entry = self.run.streams.setdefault(kind, {"planned": 0, "done": 0})
        entry["status"] = status
        entry["failed"] = status == "failed"
        if message:
            entry["message"] = message

    def page_done(self, counts: Counts) -> None:
        self.run.pages += 1
        self.run.rows_inserted += counts.inserted
        self.run.rows_updated += counts.updated
        self.run.rows_unchanged += counts.unchanged
        self.save()

    def names_page_done(self, counts: Counts) -> None:
        """A page of the directory refresh behind a usage run: not the task's own rows."""
        self.run.pages += 1
        self.save()

    def save(self) -> None:
        """Write the run's progress, if this worker still holds the run: in a page's
        transaction, a lost lease rolls the page back."""
        self.run.heartbeat_at = timezone.now()
        fields = [
            "requests_made", "requests_planned", "pages", "rows_inserted", "rows_updated",
            "rows_unchanged", "current_stream", "window_start", "window_end", "checkpoint",
            "streams", "log", "heartbeat_at",
        ]  # fmt: skip
        with self._lock:
            cancelled = _save_holding_lease(self.run, fields)
        if cancelled is None:  # raised in the page's transaction: the page rolls back
            self.heartbeat.stop(LeaseLost)
            raise LeaseLost
        if cancelled:  # the page commits; the run stops before its next request
            self.heartbeat.stop(RunCancelled)


def _save_holding_lease(run: TaskRun, fields: list[str]) -> bool | None:
    """Save the run's fields where this worker's lease still holds, and read whether a
    user asked to cancel, in one UPDATE … RETURNING. None: the lease is gone."""
    meta, q = TaskRun._meta, connection.ops.quote_name
    columns = [meta.get_field(name) for name in fields]
    values = [f.get_db_prep_save(getattr(run, f.attname), connection) for f in columns]
    assigned = ", ".join(f"{q(f.column)} = %s" for f in columns)
    statement = (
        f"UPDATE {q(meta.db_table)} SET {assigned} "  # noqa: S608 (quoted identifiers, values as parameters)
        f"WHERE {q(meta.pk.column)} = %s AND {q('lease')} = %s "
        f"RETURNING {q('cancel_requested')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, [*values, run.pk, run.lease])
        found = cursor.fetchone()
    return None if found is None else bool(found[0])


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
    usage = [q for q in queries if isinstance(q.stream, UsageStream)]
    starts = {q.stream.type: _start(run, q) for q in usage}
    _plan(run, queries, starts)
    names = bool(usage) and _directory_stale(task.connector)
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
            run.current_stream = "names"
            recorder.note("Refreshing the directory (projects, users, API keys) for names.")
            try:
                directory.refresh_all(fetcher, task.connector, recorder.names_page_done)
            except OpenAIError as error:
                if not _stream_failure(error):
                    raise
                recorder.note(f"Names not refreshed: {error}")
        for query in queries:
            kind = query.stream.type
            if run.checkpoint.get(kind, {}).get("done") or kind in failed:
                continue
            recorder.stream(kind, "running")
            try:
                if isinstance(query.stream, UsageStream):
                    _collect_stream(run, recorder, fetcher, query, starts[kind])
                else:
                    _collect_directory(run, recorder, fetcher, query)
            except OpenAIError as error:
                if not _stream_failure(error):
                    raise
                failed[kind] = str(error)
                _stream_failed(run, recorder, kind, error)
    return failed


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


def _collect_stream(run, recorder, fetcher, query: StreamQuery, start: datetime) -> None:
    stream = query.stream
    model = USAGE_TABLES[stream.type]
    run.current_stream, run.window_start, run.window_end = stream.type, start, query.end
    recorder.note(f"{stream.type}: from {start:%Y-%m-%d %H:%M} in {query.width} buckets.")
    task = run.task

    windows = usage_windows(query, start, lambda: fetcher.client.server_time)

    connection.ensure_connection()
    raw = connection.connection  # its adapters encode the COPY data on the fetch threads
    column_types(model)  # worked out here, where Django's connection is open

    def window_rows(window: Window) -> list[tuple[datetime, datetime, datetime, Prepared]]:
        """On a fetch thread: a window's pages (one, or two when OpenAI's answer is cut
        short) as (first bucket's start, the page's end, its fetch time, its rows and
        their COPY data); each page's buckets are let go once its rows are built."""
        return [
            (
                datetime.fromtimestamp(page.buckets[0]["start_time"], UTC),
                page.reached,
                page.fetched_at,
                prepare(model, _page_rows(run, query, page), timezone.now(), raw),
            )
            for page in collect_window(fetcher, query, window)
        ]

    # Two threads fetch the next page-sized windows side by side and build their rows
    # while this one writes the pages in order; only rows wait in between (an answer's
    # parsed JSON is four times their size). The first window goes alone: its answer
    # dates OpenAI's now, which cuts the next windows.
    jobs = (partial(window_rows, window) for window in windows)
    pages = in_order(jobs, check=recorder.heartbeat.check)
    with _relaxed_commits():
        for first, reached, fetched, rows in (p for window in pages for p in window):
            with transaction.atomic():
                counts = write_rows(model, rows, None, stream.path)
                coverage.cover(
                    task.pk, stream.type, query.width, first, min(reached, fetched), fetched
                )
                run.checkpoint = {**run.checkpoint, stream.type: {"reached": reached.isoformat()}}
                rollup.refresh_days(stream, task.pk, query.width, first, reached)
                run.window_start = reached
                recorder.page_done(counts)
            recorder.heartbeat.check()
            del rows
            release_memory()
    entry = run.checkpoint.get(stream.type, {})
    run.checkpoint = {**run.checkpoint, stream.type: {**entry, "done": True}}
    recorder.stream(stream.type, "done")
    recorder.save()


def _page_rows(run: TaskRun, query: StreamQuery, page) -> Rows:
    task = run.task
    return usage_rows(
        query.stream, query.width, task.pk, task.connector_id, page.buckets, page.provisional_after
    )


# Kept, measured by bench/collect.py --backfill: a year of 1m buckets peaks at 113.6 MB
# (1.05x a month) with these two calls, 121 MB (1.09x) with MALLOC_ARENA_MAX=2 instead.
_M_ARENA_MAX = -8  # glibc's mallopt parameter number (malloc.h)


def share_malloc_arena() -> None:
    """Make every thread of this process allocate from one glibc arena. The page fetch
    threads otherwise get arenas of their own, which fragment as pages come and go: a
    year-long run then ends up holding about a third more memory than a month-long one.
    Called once as a worker process starts, before it starts threads."""
    if _LIBC is not None:
        _LIBC.mallopt(_M_ARENA_MAX, 1)


def release_memory() -> None:
    """Hand freed memory back to the system after each page. A page is a few megabytes of
    JSON; without this glibc keeps the freed pieces and a year-long run's memory creeps up
    although no page is kept."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


@contextmanager
def _relaxed_commits() -> Iterator[None]:
    """While a stream's pages are written, their commits do not wait for the disk: a page
    and the run's checkpoint commit together, so a page lost with an unflushed commit is
    re-read from the earlier checkpoint. Set once for the session, not per page; the
    run's end (its marks and status) commits as usual."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO OFF")
    try:
        yield
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("RESET synchronous_commit")
        except DatabaseError:  # a lost connection: nothing left to reset
            log.warning("Could not reset synchronous_commit after writing a stream's pages.")


def _collect_directory(run, recorder, fetcher, query: StreamQuery) -> None:
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
