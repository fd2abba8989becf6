"""What a run asks OpenAI for, stream by stream, and the rows each page becomes.

The collector does HTTP and row building only; the run service commits each page
together with the run's checkpoint.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.openai.client import AdminClient
from connectors.openai.pages import ContractError, list_pages, usage_pages
from connectors.openai.plan import StreamQuery
from connectors.openai.retry import RetryPolicy, call_with_retries
from connectors.openai.streams import (
    DIRECTORY_PAGE_LIMIT,
    WIDTH_SECONDS,
    UsageStream,
    floor_time,
)

# Incremental runs re-read this much before the high-water mark: OpenAI revises recent
# buckets (minutes for about 15 minutes, daily costs for a day or more).
LOOKBACK = {"1m": timedelta(hours=3), "1h": timedelta(hours=3), "1d": timedelta(days=2)}
COSTS_LOOKBACK = timedelta(days=3)
# A bucket that ended less than this before the answer may still change: provisional.
PROVISIONAL = {"1m": timedelta(minutes=30), "1h": timedelta(minutes=30), "1d": timedelta(hours=6)}
COSTS_PROVISIONAL = timedelta(days=2)


def lookback(stream: UsageStream, width: str, minutes: int | None) -> timedelta:
    """How far before the high-water mark a run starts reading again: the task's lookback
    or the default, but never less than the finality assumed for the width, so that every
    bucket marked provisional is re-read once OpenAI no longer revises it."""
    chosen = (
        timedelta(minutes=minutes)
        if minutes is not None
        else COSTS_LOOKBACK
        if stream.floor_to_day
        else LOOKBACK[width]
    )
    return max(chosen, provisional_window(stream, width))


def provisional_window(stream: UsageStream, width: str) -> timedelta:
    return COSTS_PROVISIONAL if stream.floor_to_day else PROVISIONAL[width]


def window_start(
    query: StreamQuery,
    high_water: datetime | None,
    resume_from: datetime | None,
    lookback_minutes: int | None,
) -> datetime:
    """Where this run starts reading a usage stream.

    Resuming a crashed run: where it stopped. An open-ended task that ran before: its
    high-water mark minus the lookback, floored to a bucket boundary so the buckets
    line up with the stored ones. Otherwise START TIME.
    """
    if resume_from is not None:
        return resume_from
    if query.end is None and high_water is not None:
        back = high_water - lookback(query.stream, query.width, lookback_minutes)
        return max(
            query.start, floor_time(back, "1d" if query.stream.floor_to_day else query.width)
        )
    return query.start


def usage_params(query: StreamQuery, start: datetime) -> dict[str, Any]:
    """The query string of a usage or costs request from `start`: only parameters the
    endpoint takes, and never an empty value (OpenAI answers 400 to `project_ids=`).
    Lists go as repeated keys, so names holding commas (line items) stay whole."""
    stream = query.stream
    params: dict[str, Any] = {
        "start_time": int(start.timestamp()),
        "bucket_width": query.width,
        "limit": stream.page_limit(query.width)[1],
    }
    if query.end is not None:
        params["end_time"] = int(query.end.timestamp())
    group_by = [g for g in query.group_by if g in stream.group_by]
    if group_by:
        params["group_by"] = group_by
    taken = {param.api for param in stream.filters}
    for name, value in query.filters.items():
        if isinstance(value, list | tuple):
            value = [str(item).strip() for item in value if str(item).strip()]
        if name not in taken or value in (None, "", []):
            continue
        params[name] = "true" if value is True else "false" if value is False else value
    return params


@dataclass
class Page:
    buckets: list[dict[str, Any]]
    reached: datetime  # the end of the page's last bucket: where a resumed run goes on
    provisional_after: int  # buckets ending after this (epoch seconds) may still change
    fetched_at: datetime  # OpenAI's time of the answer: the page covers no later than this


class Fetcher:
    """GETs through the one retry layer."""

    def __init__(
        self, client: AdminClient, policy: RetryPolicy, on_retry=None, sleep=time.sleep
    ) -> None:
        self.client, self.policy, self.on_retry = client, policy, on_retry
        self.sleep = sleep  # a run's sleep wakes when the run must stop

    def for_path(self, path: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
        def fetch(params: dict[str, Any]) -> dict[str, Any]:
            return call_with_retries(
                lambda: self.client.get(path, params),
                self.policy,
                sleep=self.sleep,
                on_retry=self.on_retry,
            )

        return fetch

    def server_now(self) -> datetime:
        return self.client.server_time or datetime.now(UTC)


# Windows are split off up to this long before OpenAI's now (as its last answer dated
# it, or this machine's clock before any answer); the last window is left open.
OPEN_MARGIN = timedelta(hours=1)


@dataclass(frozen=True)
class Window:
    begin: datetime
    end: datetime | None  # None: open-ended, up to OpenAI's now
    last: bool  # only the last window may end before `end`


def usage_windows(
    query: StreamQuery, start: datetime, server_now: Callable[[], datetime | None]
) -> Iterator[Window]:
    """[start, end) cut into windows of exactly one largest page each, so that they can be
    fetched side by side with no more requests than one paginated query, and no window
    holds more than a page or two. Made one at a time: each is cut with the latest word
    on OpenAI's now (`server_now()`, None before its first answer, when this machine's
    clock stands in), up to the END TIME or shortly before now; the last window runs
    from there to the END TIME, or open-ended. Nothing is asked for past OpenAI's now."""
    stream = query.stream
    grain = "1d" if stream.floor_to_day else query.width
    edge = floor_time(start, "1d") if stream.floor_to_day else start
    span = timedelta(seconds=stream.page_limit(query.width)[1] * WIDTH_SECONDS[grain])
    boundary = floor_time(edge, grain) + span  # page k ends at the boundary k pages on
    while True:
        if query.end is not None and edge >= query.end:
            return  # a run resumed at its END TIME: nothing left to ask for
        known = server_now()
        if known is not None and edge >= known:
            return  # OpenAI's now is behind the window: it has nothing there yet
        latest = (known or datetime.now(UTC)) - OPEN_MARGIN
        until = min(query.end, latest) if query.end else latest
        if boundary >= until:
            yield Window(edge, query.end, last=True)
            return
        yield Window(edge, boundary, last=False)
        edge, boundary = boundary, boundary + span


def collect_window(fetcher: Fetcher, query: StreamQuery, window: Window) -> Iterator[Page]:
    """The pages of one window, in order. A window before the last must be full: its last
    bucket ends where the next window starts, or where OpenAI's now cut it (when this
    machine's clock ran ahead of OpenAI's); otherwise OpenAI stopped early."""
    stream = query.stream
    params = usage_params(query, window.begin)
    if window.end is not None:
        params["end_time"] = int(window.end.timestamp())
    provisional = provisional_window(stream, query.width)
    reached, answered = None, None
    for buckets in usage_pages(
        fetcher.for_path(stream.path), stream.path, params, int(window.begin.timestamp())
    ):
        if not buckets:
            continue
        answered = fetcher.server_now()
        provisional_after = int((answered - provisional).timestamp())
        reached = datetime.fromtimestamp(buckets[-1]["end_time"], UTC)
        yield Page(buckets, reached, provisional_after, answered)
    cut_by_now = answered is not None and reached is not None and reached >= answered
    if not window.last and reached != window.end and not cut_by_now:
        raise ContractError(
            f"{stream.path} stopped before {window.end:%Y-%m-%d %H:%M} UTC without saying "
            "it had more."
        )


def list_all(fetcher: Fetcher, path: str, params: dict[str, Any] | None = None) -> Iterator[list]:
    query = {"limit": DIRECTORY_PAGE_LIMIT, **(params or {})}
    yield from list_pages(fetcher.for_path(path), path, query)
