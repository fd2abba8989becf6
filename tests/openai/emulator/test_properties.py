"""Properties of the served data: sums, partitions, paging and late data (hypothesis)."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from itertools import accumulate

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.openai.emulator import DEMO_ADMIN_KEY, Emulator, totals
from connectors.openai.streams import USAGE_STREAMS
from tests.fixtures_emulator import EMULATOR_BASE_URL as BASE_URL
from tests.fixtures_emulator import EMULATOR_NOW

EMULATOR = Emulator(now=EMULATOR_NOW)
CLIENT_HEADERS = {"Authorization": f"Bearer {DEMO_ADMIN_KEY}"}
USAGE = [s for s in USAGE_STREAMS if s.type != "costs"]
DAY, HOUR = 86400, 3600
examples = settings(max_examples=30, deadline=None, database=None, derandomize=True)


@st.composite
def usage_queries(draw, days: int = 1):
    stream = draw(st.sampled_from(USAGE))
    group_by = tuple(draw(st.lists(st.sampled_from(stream.group_by), unique=True, max_size=3)))
    start = EMULATOR_NOW - draw(st.integers(HOUR, 20 * DAY))
    length = draw(st.integers(1, days * DAY))
    now = EMULATOR_NOW + draw(st.integers(-DAY, DAY))
    return stream, group_by, start, start + length, now


def _by_group(buckets: list[dict], group_by) -> dict[tuple, Counter]:
    found: dict[tuple, Counter] = {}
    for bucket in buckets:
        for result in bucket["results"]:
            key = tuple(result[d] for d in group_by)
            found.setdefault(key, Counter()).update(_metrics(result))
    return found


def _metrics(result: dict) -> dict:
    return {k: v for k, v in totals([{"results": [result]}]).items()}


def _nonzero(groups: dict[tuple, Counter]) -> dict[tuple, Counter]:
    return {key: +counts for key, counts in groups.items() if +counts}


@examples
@given(usage_queries())
def test_it_makes_coarse_buckets_the_exact_sum_of_finer_ones(query):
    stream, group_by, start, end, now = query
    truth = {
        width: EMULATOR.ground_truth(
            stream.type, start=start, end=end, bucket_width=width, group_by=group_by, now=now
        )  # fmt: skip
        for width in ("1d", "1h", "1m")
    }
    hours = truth["1h"]
    for coarse, fine in (("1d", "1h"), ("1h", "1m")):
        for bucket in truth[coarse]:
            inside = [b for b in truth[fine] if bucket["start_time"] <= b["start_time"]]
            inside = [b for b in inside if b["end_time"] <= bucket["end_time"]]
            assert _by_group([bucket], group_by) == _by_group(inside, group_by)
    assert _nonzero(_by_group(truth["1d"], group_by)) == _nonzero(_by_group(hours, group_by))


@examples
@given(usage_queries(days=3), st.data())
def test_it_returns_every_bucket_once_at_every_page_size(query, data):
    stream, group_by, start, end, now = query
    width = data.draw(st.sampled_from(("1d", "1h")))
    limit = data.draw(st.integers(1, stream.page_limit(width)[1]))
    params = {"start_time": start, "end_time": end, "bucket_width": width, "limit": limit}
    if group_by:  # OpenAI refuses an empty group_by=
        params["group_by"] = ",".join(group_by)
    served = _all_pages(_client(now), stream.path, params)
    truth = EMULATOR.ground_truth(stream.type, start=start, end=end, bucket_width=width,
                                  group_by=group_by, now=now)  # fmt: skip
    assert served == truth
    assert all(a["end_time"] == b["start_time"] for a, b in zip(served, served[1:], strict=False))
    assert served[0]["start_time"] == start and served[-1]["end_time"] == end


def _client(now: int) -> httpx.Client:
    headers = {**CLIENT_HEADERS, "X-Emulator-Now": str(now)}
    return httpx.Client(transport=EMULATOR.transport(), base_url=BASE_URL, headers=headers)


def _all_pages(client, path: str, params: dict) -> list[dict]:
    found, cursor = [], None
    while True:
        page = client.get(path, params={**params, **({"page": cursor} if cursor else {})}).json()
        found += page["data"]
        if not page["has_more"]:
            return found
        cursor = page["next_page"]


@examples
@given(usage_queries(days=10))
def test_it_partitions_totals_by_every_filter(query):
    stream, _, start, end, now = query
    whole = totals(EMULATOR.ground_truth(stream.type, start=start, end=end, now=now))
    for param in stream.filters:
        dim = param.api.removesuffix("s") if param.api != "batch" else "batch"
        grouped = EMULATOR.ground_truth(stream.type, start=start, end=end, group_by=(dim,),
                                        now=now)  # fmt: skip
        values = {r[dim] for b in grouped for r in b["results"]}
        # Usage of service-account keys has no user: no user filter selects it.
        parts = _by_group(grouped, (dim,)).get((None,), Counter())
        for value in values - {None}:
            part = EMULATOR.ground_truth(stream.type, start=start, end=end, now=now,
                                         filters={param.api: [value]})  # fmt: skip
            parts.update(totals(part))
        assert +parts == +Counter(whole), param.api


@examples
@given(
    st.integers(0, 60), st.integers(1, 40), st.sampled_from([(), ("project_id",), ("api_key_id",)])
)
def test_it_sums_costs_line_items_to_the_ungrouped_total(days_back, days, group_by):
    start = EMULATOR_NOW - days_back * DAY - 5 * HOUR
    end = start + days * DAY
    whole = EMULATOR.ground_truth("costs", start=start, end=end, group_by=group_by)
    items = EMULATOR.ground_truth("costs", start=start, end=end,
                                  group_by=(*group_by, "line_item"))  # fmt: skip
    whole_groups = _by_group(whole, group_by)
    item_groups = _by_group(items, group_by)
    for key, counts in whole_groups.items():
        assert item_groups[key]["amount.value"] == counts["amount.value"]
    assert sum(Decimal(str(r["amount"]["value"])) for b in items for r in b["results"]) == sum(
        c["amount.value"] for c in whole_groups.values()
    )


def _cells(buckets: list[dict], group_by) -> dict[tuple, Counter]:
    return {
        (bucket["start_time"], key): counts
        for bucket in buckets
        for key, counts in _by_group([bucket], group_by).items()
    }


def _assert_grows(before: dict[tuple, Counter], after: dict[tuple, Counter]) -> None:
    for cell, counts in before.items():
        assert all(after.get(cell, Counter())[m] >= v for m, v in counts.items()), cell


@examples
@given(
    st.sampled_from(USAGE),
    st.sampled_from(("1m", "1h", "1d")),
    st.lists(st.integers(1, 400), min_size=1, max_size=6),
)
def test_it_grows_late_usage_monotonically_to_its_final_value(stream, width, steps):
    start, end = EMULATOR_NOW - 90 * 60, EMULATOR_NOW + 30 * 60
    group_by = stream.group_by
    moments = list(accumulate(steps, initial=EMULATOR_NOW - 20 * 60))
    final_at = end + EMULATOR.usage_finality
    seen = None
    for now in [*moments, final_at, final_at + DAY]:
        buckets = EMULATOR.ground_truth(stream.type, start=start, end=end, bucket_width=width,
                                        group_by=group_by, now=now)  # fmt: skip
        cells = _cells(buckets, group_by)
        if seen is not None:
            _assert_grows(seen, cells)
        seen = cells
    final = EMULATOR.ground_truth(stream.type, start=start, end=end, bucket_width=width,
                                  group_by=group_by, now=final_at)  # fmt: skip
    assert _cells(final, group_by) == seen


@examples
@given(st.lists(st.integers(1, 12 * HOUR), min_size=1, max_size=6))
def test_it_grows_late_costs_monotonically_to_their_final_value(steps):
    start, end = EMULATOR_NOW - 2 * DAY, EMULATOR_NOW + DAY
    group_by = ("project_id", "line_item", "api_key_id")
    seen = None
    final_at = end + EMULATOR.costs_finality
    for now in [*accumulate(steps, initial=EMULATOR_NOW - DAY), final_at, final_at + DAY]:
        buckets = EMULATOR.ground_truth("costs", start=start, end=end, group_by=group_by, now=now)
        cells = _cells(buckets, group_by)
        if seen is not None:
            _assert_grows(seen, cells)
        seen = cells
    final = EMULATOR.ground_truth("costs", start=start, end=end, group_by=group_by, now=final_at)
    assert _cells(final, group_by) == seen
