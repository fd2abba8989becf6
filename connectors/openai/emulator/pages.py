"""Pages of usage and costs buckets, with final buckets memoised as encoded JSON.

A bucket whose data is final (older than the finality window) never changes, so its
results and its JSON are kept: a collector re-reading history costs the emulator little.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from connectors.openai.emulator.catalog import DAY, MINUTE
from connectors.openai.emulator.costs import costs_buckets
from connectors.openai.emulator.errors import invalid
from connectors.openai.emulator.params import (
    BucketQuery,
    Params,
    bucket_edges,
    bucket_index,
    bucket_total,
    encode_cursor,
    parse_bucket_query,
)
from connectors.openai.emulator.usage import OrgData, usage_buckets
from connectors.openai.streams import UsageStream

_FINAL: dict[tuple, tuple[dict, bytes]] = {}
_FINAL_LIMIT = 50_000


@dataclass(frozen=True)
class Finality:
    """How long after its end a bucket's data may still change, in seconds."""

    usage: int
    costs: int  # counted from the end of the bucket's UTC day


def page_body(data: OrgData, finality: Finality, stream: UsageStream, params: Params, now: int):
    """The encoded JSON of one page of a usage or costs endpoint."""
    query, limit, page_start = parse_bucket_query(stream, params)
    end = now if query.end is None else query.end
    total = bucket_total(query, end)
    first = 0 if page_start is None else bucket_index(query, page_start)
    if first is None or (page_start is not None and first >= total):
        raise invalid("page", "Invalid 'page': it does not belong to this query.")
    count = max(0, min(limit, total - first))
    has_more = first + count < total
    cursor = encode_cursor(bucket_edges(query, end, first + count, 0)[0], query)
    fragments = [encoded for _, encoded in _buckets(data, finality, query, end, first, count, now)]
    tail = {"has_more": has_more, "next_page": cursor if has_more else None}
    return b'{"object":"page","data":[%b],%b' % (b",".join(fragments), _encode(tail)[1:])


def buckets(
    data: OrgData, finality: Finality, query: BucketQuery, end, first, count, now
) -> list[dict]:
    return [bucket for bucket, _ in _buckets(data, finality, query, end, first, count, now)]


def _buckets(data: OrgData, finality: Finality, query: BucketQuery, end, first, count, now):
    edges = bucket_edges(query, end, first, count)
    keys = [
        _key(data.seed, query, edges[i], edges[i + 1])
        if _final(finality, query, edges[i], edges[i + 1], now)
        else None
        for i in range(len(edges) - 1)
    ]
    found = [_FINAL.get(key) if key else None for key in keys]
    if all(item is not None for item in found):
        return found
    computed = _compute(data, finality, query, end, first, count, now)
    for i, (key, bucket) in enumerate(zip(keys, computed, strict=True)):
        if found[i] is None:
            found[i] = (bucket, _encode(bucket))
            if key is not None:
                _remember(key, found[i])
    return found


def _compute(
    data: OrgData, finality: Finality, query: BucketQuery, end, first, count, now
) -> list[dict]:
    if query.stream.type == "costs":
        return costs_buckets(data, query, end, first, count, now, finality.costs)
    table = data.stream(query.stream)
    return usage_buckets(table, query, end, first, count, now, finality.usage)


def _final(finality: Finality, query: BucketQuery, start: int, stop: int, now: int) -> bool:
    if query.stream.type == "costs":
        return start // DAY * DAY + DAY + finality.costs <= now
    return -(-stop // MINUTE) * MINUTE + finality.usage <= now


def _key(seed: int, query: BucketQuery, start: int, stop: int) -> tuple:
    return (seed, query.stream.path, query.group_by, query.filters, start, stop)


def _remember(key: tuple, item: tuple[dict, bytes]) -> None:
    if len(_FINAL) >= _FINAL_LIMIT:
        _FINAL.clear()
    _FINAL[key] = item


def _encode(value: dict) -> bytes:
    return orjson.dumps(value)
