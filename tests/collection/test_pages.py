"""Pagination fails loudly on answers that break the contract, never stops silently."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.openai.collector import Window, collect_window, usage_windows
from connectors.openai.pages import ContractError, list_pages, usage_pages
from connectors.openai.plan import stream_queries
from connectors.openai.streams import request_count

PATH = "/organization/usage/completions"


def bucket(start: int, end: int) -> dict:
    return {"object": "bucket", "start_time": start, "end_time": end, "results": []}


def serve(*pages):
    answers = iter(pages)
    return lambda params: next(answers)


def page(buckets, has_more=False, next_page=None) -> dict:
    return {"object": "page", "data": buckets, "has_more": has_more, "next_page": next_page}


def test_it_follows_cursors_to_exhaustion():
    fetch = serve(
        page([bucket(0, 10), bucket(10, 20)], True, "page_a"),
        page([bucket(20, 30)], True, "page_b"),
        page([bucket(30, 40)]),
    )
    pages = list(usage_pages(fetch, PATH, {}, 0))
    assert [b["start_time"] for p in pages for b in p] == [0, 10, 20, 30]


@pytest.mark.parametrize(
    ("pages", "message"),
    [
        (
            (page([bucket(0, 10)], True, "page_a"), page([bucket(10, 20)], True, "page_a")),
            "same page cursor twice",
        ),
        (
            (page([bucket(0, 10)], True, "page_a"), page([bucket(20, 30)])),
            "skipped or repeated time",
        ),
        ((page([bucket(0, 10)], True, None),), "gave no next_page"),
        ((page([bucket(5, 10)]),), "expected 0"),
        (({"object": "list", "data": []},), "did not answer with a page"),
        ((page([{"object": "bucket", "start_time": 0, "end_time": 10}]),), "without results"),
        ((page([], True, "page_a"),), "empty page"),
    ],
)
def test_it_refuses_pages_that_break_the_contract(pages, message):
    with pytest.raises(ContractError, match=message):
        list(usage_pages(serve(*pages), PATH, {}, 0))


def test_it_refuses_a_directory_list_that_repeats_its_cursor():
    listing = {"object": "list", "data": [{"id": "a"}], "has_more": True, "last_id": "a"}
    with pytest.raises(ContractError, match="no new cursor"):
        list(list_pages(serve(listing, listing), "/organization/users", {}))


# --- page-sized windows ---------------------------------------------------------------


def hourly_query(start: str, end: str | None):
    params = {
        "type": "completions",
        "completions-StartTime": start,
        "completions-BucketWidth": "1h",
    }
    if end:
        params["completions-EndTime"] = end
    return stream_queries("completions", params)[0]


def test_windows_split_a_range_into_exactly_the_pages_it_needs():
    query = hourly_query("2025-11-01", "2026-11-01")
    now = datetime(2026, 12, 1, tzinfo=UTC)
    windows = list(usage_windows(query, query.start, lambda: now))
    assert len(windows) == request_count(query.stream, "1h", query.start, query.end)
    assert windows[0].begin == query.start and windows[-1].end == query.end
    assert [w.last for w in windows] == [False] * (len(windows) - 1) + [True]
    assert all(a.end == b.begin for a, b in zip(windows, windows[1:], strict=False))
    largest = timedelta(hours=query.stream.page_limit("1h")[1])
    assert all(w.end - w.begin <= largest for w in windows)


def test_an_open_range_is_split_only_up_to_openai_s_now():
    query = hourly_query("2026-09-01", None)
    now = datetime(2026, 10, 1, 12, tzinfo=UTC)
    windows = list(usage_windows(query, query.start, lambda: now))
    assert windows[-1].end is None and windows[-1].last and windows[-1].begin < now
    assert all(w.end is not None and w.end <= now for w in windows[:-1])


def test_before_openai_answers_this_machine_s_clock_cuts_the_windows():
    """A connector whose directory is fresh makes no request before its usage stream:
    the windows must still be page-sized, never one window for the whole range."""
    query = hourly_query("2019-01-01", None)
    windows = usage_windows(query, query.start, lambda: None)
    first, second = next(windows), next(windows)
    largest = timedelta(hours=query.stream.page_limit("1h")[1])
    assert first.end - first.begin <= largest and not first.last
    assert second.begin == first.end and second.end - second.begin == largest


def test_nothing_is_asked_for_past_openai_s_now():
    """This machine's clock ran ahead: once OpenAI's answer dates its now, no window
    starts after it."""
    query = hourly_query("2026-09-01", "2027-01-01")
    openai_now = datetime(2026, 9, 20, tzinfo=UTC)
    known: list[datetime] = []
    windows = usage_windows(query, query.start, lambda: known[0] if known else None)
    first = next(windows)  # cut with this machine's clock (December 2026)
    known.append(openai_now)
    rest = list(windows)
    assert first.begin == query.start
    assert all(w.begin < openai_now for w in rest)


def test_a_run_resumed_at_its_end_time_asks_for_nothing():
    """OpenAI refuses end_time <= start_time: a run that had reached its END TIME when
    its worker died must not ask for an empty window."""
    query = hourly_query("2026-09-01", "2026-09-15")
    now = datetime(2026, 10, 1, tzinfo=UTC)
    assert list(usage_windows(query, query.end, lambda: now)) == []


class Answers:
    """Stands in for the fetcher: the given answers, in order."""

    def __init__(self, *pages) -> None:
        self.fetch = serve(*pages)

    def for_path(self, path):
        return self.fetch

    def server_now(self):
        return datetime(2026, 10, 1, tzinfo=UTC)


def test_a_window_that_stops_early_fails_loudly():
    query = hourly_query("2026-09-01", "2026-09-15")
    window = next(usage_windows(query, query.start, lambda: datetime(2026, 10, 1, tzinfo=UTC)))
    begin = int(window.begin.timestamp())
    short = Answers(page([bucket(begin + i * 3600, begin + (i + 1) * 3600) for i in range(5)]))
    with pytest.raises(ContractError, match="stopped before"):
        list(collect_window(short, query, window))
    last = Answers(page([bucket(begin + i * 3600, begin + (i + 1) * 3600) for i in range(5)]))
    final = Window(window.begin, window.end, last=True)
    assert len(list(collect_window(last, query, final))) == 1
