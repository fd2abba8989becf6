"""A usage stream's pages: fetched and made rows on two threads, written in order on the
run's thread, each in one transaction with its coverage, its days' rollups and the run's
checkpoint (a run taken over or resumed starts after the last page written)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from connectors import coverage
from connectors.collection.memory import release_memory
from connectors.collection.recorder import Recorder
from connectors.models import USAGE_TABLES, TaskRun
from connectors.openai import rollup
from connectors.openai.collector import Fetcher, Window, collect_window, usage_windows
from connectors.openai.persistence import Rows, usage_rows
from connectors.openai.plan import StreamQuery
from connectors.openai.prefetch import in_order
from connectors.openai.writer import write_rows

log = logging.getLogger(__name__)


@dataclass
class Page:
    """A page made rows on a fetch thread, with what its write records beside them."""

    first: datetime  # its first bucket's start
    reached: datetime  # the end of its last bucket
    fetched: datetime  # when OpenAI answered
    rows: Rows


def collect_stream(
    run: TaskRun, recorder: Recorder, fetcher: Fetcher, query: StreamQuery, start: datetime
) -> None:
    """Collect one usage stream from `start`, page by page, and mark it done."""
    kind = query.stream.type
    run.current_stream, run.window_start, run.window_end = kind, start, query.end
    recorder.note(f"{kind}: from {start:%Y-%m-%d %H:%M} in {query.width} buckets.")
    with _relaxed_commits():
        for page in _pages(run, recorder, fetcher, query, start):
            _write_page(run, recorder, query, page)
            recorder.heartbeat.check()
            del page
            release_memory()
    entry = run.checkpoint.get(kind, {})
    run.checkpoint = {**run.checkpoint, kind: {**entry, "done": True}}
    recorder.stream(kind, "done")
    recorder.save()


def _pages(
    run: TaskRun, recorder: Recorder, fetcher: Fetcher, query: StreamQuery, start: datetime
) -> Iterator[Page]:
    """The stream's pages in order. Two threads fetch the next page-sized windows side by
    side and build their rows while the caller writes; only rows wait in between (an
    answer's parsed JSON is four times their size). The first window goes alone: its
    answer dates OpenAI's now, which cuts the next windows."""
    windows = usage_windows(query, start, lambda: fetcher.client.server_time)
    jobs = (partial(_window_pages, run, fetcher, query, window) for window in windows)
    for pages in in_order(jobs, check=recorder.heartbeat.check):
        yield from pages


def _window_pages(run: TaskRun, fetcher: Fetcher, query: StreamQuery, window: Window) -> list[Page]:
    """On a fetch thread: a window's pages (one, or two when OpenAI's answer is cut
    short) made rows; each page's buckets are let go once its rows are built."""
    return [
        Page(
            first=datetime.fromtimestamp(page.buckets[0]["start_time"], UTC),
            reached=page.reached,
            fetched=page.fetched_at,
            rows=_page_rows(run, query, page),
        )
        for page in collect_window(fetcher, query, window)
    ]


def _page_rows(run: TaskRun, query: StreamQuery, page) -> Rows:
    task = run.task
    return usage_rows(
        query.stream, query.width, task.pk, task.connector_id, page.buckets, page.provisional_after
    )


def _write_page(run: TaskRun, recorder: Recorder, query: StreamQuery, page: Page) -> None:
    """The page's rows, the span it covers, its days' rollups and the run's checkpoint
    and counts, in one transaction."""
    stream, task = query.stream, run.task
    covered_to = min(page.reached, page.fetched)
    with transaction.atomic():
        counts = write_rows(USAGE_TABLES[stream.type], page.rows, timezone.now(), stream.path)
        coverage.cover(task.pk, stream.type, query.width, page.first, covered_to, page.fetched)
        run.checkpoint = {**run.checkpoint, stream.type: {"reached": page.reached.isoformat()}}
        rollup.refresh_days(stream, task.pk, query.width, page.first, page.reached)
        run.window_start = page.reached
        recorder.page_done(counts)


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
