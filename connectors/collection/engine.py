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

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from connectors import coverage, crypto
from connectors.collection import directory, queue, ratelimit
from connectors.models import (
    USAGE_TABLES,
    RunStatus,
    StreamState,
    TaskRun,
)
from connectors.openai import rollup
from connectors.openai.client import AdminClient, OpenAIError
from connectors.openai.collector import Fetcher, collect_window, usage_windows, window_start
from connectors.openai.persistence import Counts, Rows, usage_rows
from connectors.openai.plan import StreamQuery, stream_queries
from connectors.openai.prefetch import in_order
from connectors.openai.retry import RetryPolicy
from connectors.openai.streams import UsageStream, request_count
from connectors.openai.writer import Prepared, column_types, prepare, write_rows

log = logging.getLogger(__name__)
_LIBC = ctypes.CDLL("libc.so.6") if sys.platform.startswith("linux") else None

DIRECTORY_MAX_AGE = timedelta(hours=1)
LOG_LINES = 200


class RunCancelled(Exception):
    pass


# --- executing ----------------------------------------------------------------------


class Recorder:
    """The run's counters in memory, saved with each page in the page's transaction."""

    def __init__(self, run: TaskRun) -> None:
        self.run = run
        self.connector = run.task.connector
        self._lock = threading.Lock()  # the fetch threads count and note too

    def before_request(self) -> None:
        """Runs on the page fetch threads too: no database here, only counting."""
        ratelimit.acquire(self.connector.pk, self.connector.requests_per_minute)
        with self._lock:
            self.run.requests_made += 1
            # Directory listings have no count known in advance: the plan grows with them.
            self.run.requests_planned = max(self.run.requests_planned, self.run.requests_made)

    def on_retry(self, error: OpenAIError, delay: float) -> None:
        self.note(f"{error.message} Retrying in {delay:.1f} s.")

    def note(self, message: str) -> None:
        stamp = timezone.now().strftime("%H:%M:%S")
        with self._lock:
            self.run.log = [*self.run.log, f"{stamp} {message}"][-LOG_LINES:]

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
        self.run.heartbeat_at = timezone.now()
        fields = [
            "requests_made", "requests_planned", "pages", "rows_inserted", "rows_updated",
            "rows_unchanged", "current_stream", "window_start", "window_end", "checkpoint",
            "log", "heartbeat_at",
        ]  # fmt: skip
        if connection.vendor == "postgresql":
            cancelled = _save_reading_cancel(self.run, fields)
        else:
            self.run.save(update_fields=fields)
            cancelled = TaskRun.objects.filter(pk=self.run.pk, cancel_requested=True).exists()
        if cancelled:
            raise RunCancelled


def _save_reading_cancel(run: TaskRun, fields: list[str]) -> bool:
    """Save the run's fields and read whether a user asked to cancel it, in one UPDATE …
    RETURNING: a page's bookkeeping costs one round trip, not two."""
    meta, q = TaskRun._meta, connection.ops.quote_name
    columns = [meta.get_field(name) for name in fields]
    values = [f.get_db_prep_save(getattr(run, f.attname), connection) for f in columns]
    assigned = ", ".join(f"{q(f.column)} = %s" for f in columns)
    statement = f"UPDATE {q(meta.db_table)} SET {assigned} WHERE {q(meta.pk.column)} = %s"  # noqa: S608 (quoted identifiers, values as parameters)
    statement += f" RETURNING {q('cancel_requested')}"
    with connection.cursor() as cursor:
        cursor.execute(statement, [*values, run.pk])
        found = cursor.fetchone()
    return bool(found and found[0])


def run_execute(run_id: int) -> None:
    run = queue.claim(run_id)
    if run is None:
        return
    recorder = Recorder(run)
    recorder.note(f"Started (attempt {run.attempts}).")
    try:
        _collect(run, recorder)
    except RunCancelled:
        _finish(run, recorder, RunStatus.CANCELLED, "Cancelled by a user.")
    except (OpenAIError, crypto.SecretError) as error:
        _finish(run, recorder, RunStatus.FAILED, str(error))
    except Exception:
        log.exception("run %s failed", run.pk)
        _finish(
            run,
            recorder,
            RunStatus.FAILED,
            "An internal error stopped the run; see the worker log.",
        )
    else:
        _finish(run, recorder, RunStatus.SUCCEEDED, "Succeeded.")
    queue.start_waiting(run.task)


def _finish(run: TaskRun, recorder: Recorder, status: str, message: str) -> None:
    recorder.note(message)
    run.status, run.finished_at = status, timezone.now()
    run.error = "" if status == RunStatus.SUCCEEDED else message
    run.save()


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


def _collect(run: TaskRun, recorder: Recorder) -> None:
    task = run.task
    queries = stream_queries(task.query_type, task.parameters)
    with _client(run, recorder) as client:
        fetcher = Fetcher(client, retry_policy(), on_retry=recorder.on_retry)
        usage = [q for q in queries if isinstance(q.stream, UsageStream)]
        starts = {q.stream.type: _start(run, q) for q in usage}
        run.requests_planned = (
            len(queries)
            - len(usage)
            + sum(
                request_count(q.stream, q.width, starts[q.stream.type], q.end or timezone.now())
                for q in usage
            )
        )
        if usage and _directory_stale(task.connector):
            recorder.note("Refreshing the directory (projects, users, API keys) for names.")
            directory.refresh_all(fetcher, task.connector, recorder.names_page_done)
        for query in queries:
            if run.checkpoint.get(query.stream.type, {}).get("done"):
                continue
            if isinstance(query.stream, UsageStream):
                _collect_stream(run, recorder, fetcher, query, starts[query.stream.type])
            else:
                _collect_directory(run, recorder, fetcher, query)
    _advance_marks(run, usage)


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

    windows = usage_windows(query, start, fetcher.client.server_time)

    connection.ensure_connection()
    raw = connection.connection  # its adapters encode the COPY data on the fetch threads
    column_types(model)  # worked out here, where Django's connection is open

    def window_rows(i: int) -> list[tuple[datetime, datetime, datetime, Prepared]]:
        """On a fetch thread: window i's pages as (first bucket's start, the page's end,
        its rows and their COPY data); each page's buckets are let go once its rows are
        built."""
        pages = collect_window(fetcher, query, windows[i], last=i == len(windows) - 1)
        return [
            (
                datetime.fromtimestamp(page.buckets[0]["start_time"], UTC),
                page.reached,
                page.fetched_at,
                prepare(model, _page_rows(run, query, page), timezone.now(), raw),
            )
            for page in pages
        ]

    # Two threads fetch the next page-sized windows side by side and build their rows
    # while this one writes the pages in order; only rows wait in between (an answer's
    # parsed JSON is four times their size).
    jobs = (partial(window_rows, i) for i in range(len(windows)))
    with _relaxed_commits():
        for first, reached, fetched, rows in (p for pages in in_order(jobs) for p in pages):
            with transaction.atomic():
                counts = write_rows(model, rows, None, stream.path)
                coverage.cover(
                    task.pk, stream.type, query.width, first, min(reached, fetched), fetched
                )
                run.checkpoint = {**run.checkpoint, stream.type: {"reached": reached.isoformat()}}
                rollup.refresh_days(stream, task.pk, query.width, first, reached)
                run.window_start = reached
                recorder.page_done(counts)
            del rows
            release_memory()
    entry = run.checkpoint.get(stream.type, {})
    run.checkpoint = {**run.checkpoint, stream.type: {**entry, "done": True}}
    recorder.save()


def _page_rows(run: TaskRun, query: StreamQuery, page) -> Rows:
    task = run.task
    return usage_rows(
        query.stream, query.width, task.pk, task.connector_id, page.buckets, page.provisional_after
    )


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
    recorder.save()


def _advance_marks(run: TaskRun, usage: list[StreamQuery]) -> None:
    """The high-water mark moves only when the whole run succeeded."""
    for query in usage:
        reached = run.checkpoint.get(query.stream.type, {}).get("reached")
        if query.end is None and reached:
            StreamState.objects.update_or_create(
                task=run.task,
                stream=query.stream.type,
                defaults={"high_water": datetime.fromisoformat(reached)},
            )
