"""Pagination to exhaustion, checking every page against the API's contract.

A repeated cursor, a gap between buckets, or a page that says it has more without a
cursor fails loudly: silently stopping early is how collectors lose data.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from connectors.openai.client import UnexpectedResponseError

Fetch = Callable[[dict[str, Any]], dict[str, Any]]


# Unix seconds a bucket may start or end at: from 1970 to the last second of year 9999,
# what a datetime (and a timestamp column) can hold.
LAST_SECOND = 253402300799


class ContractError(UnexpectedResponseError):
    """A page that breaks the API's contract. `excerpt` is the offending piece of the
    answer as compact JSON (see `excerpt`), for the run's log; empty when there is none."""

    def __init__(self, message: str, excerpt: str = "") -> None:
        super().__init__(message)
        self.excerpt = excerpt


def excerpt(value: Any, limit: int = 500) -> str:
    """`value` as compact JSON cut to `limit` characters, safe to store as text: a lone
    surrogate, which no text column can hold, comes out escaped (as JSON does NUL)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=repr)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.encode("utf-8", "backslashreplace").decode()


def usage_pages(fetch: Fetch, path: str, params: dict[str, Any], first_start: int):
    """Yield the buckets of each page of a usage or costs query, in order."""
    seen: set[str] = set()
    expected = first_start
    query = dict(params)
    while True:
        body = fetch(query)
        buckets = _buckets(body, path)
        for bucket in buckets:
            _check_bucket(bucket, expected, path)
            expected = bucket["end_time"]
        yield buckets
        if not body["has_more"]:
            return
        cursor = body.get("next_page")
        if not isinstance(cursor, str) or not cursor:
            raise ContractError(f"{path} said it has more pages but gave no next_page cursor.")
        if cursor in seen:
            raise ContractError(f"{path} returned the same page cursor twice; stopping.")
        if not buckets:
            raise ContractError(f"{path} returned an empty page that claims to have more.")
        seen.add(cursor)
        query = {**params, "page": cursor}


def _buckets(body: dict[str, Any], path: str) -> list[dict[str, Any]]:
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list) or body.get("object") != "page":
        raise ContractError(f"{path} did not answer with a page of buckets.", excerpt(body))
    if not isinstance(body.get("has_more"), bool):
        raise ContractError(f"{path} answered a page without has_more.", excerpt(body))
    return data


def _check_bucket(bucket: Any, expected: int, path: str) -> None:
    if not isinstance(bucket, dict) or bucket.get("object") != "bucket":
        raise ContractError(f"{path} returned something that is not a bucket.", excerpt(bucket))
    check_times(bucket, path)
    start = bucket["start_time"]
    if start != expected:
        raise ContractError(
            f"{path} skipped or repeated time: a bucket starts at {start}, expected {expected}.",
            excerpt({k: v for k, v in bucket.items() if k != "results"}),
        )
    if not isinstance(bucket.get("results"), list):
        raise ContractError(f"{path} returned a bucket without results.", excerpt(bucket))


def check_times(bucket: dict[str, Any], path: str) -> None:
    """A bucket's start_time and end_time: integers, in order, within what a timestamp
    can hold (a bucket ending in the year 300000 would crash every date computation)."""
    start, end = bucket.get("start_time"), bucket.get("end_time")
    for name, value in (("start_time", start), ("end_time", end)):
        if type(value) is not int or not 0 <= value <= LAST_SECOND:
            raise ContractError(
                f"{path} returned a bucket with {name}={excerpt(value, 40)}, "
                "which is not a time in Unix seconds.",
                excerpt({k: v for k, v in bucket.items() if k != "results"}),
            )
    if end <= start:
        raise ContractError(
            f"{path} returned a bucket ending ({end}) before it starts ({start}).",
            excerpt({k: v for k, v in bucket.items() if k != "results"}),
        )


def list_pages(fetch: Fetch, path: str, params: dict[str, Any]) -> Iterator[list[dict]]:
    """Yield each page of a directory list, following `after=last_id` to exhaustion."""
    seen: set[str] = set()
    query = dict(params)
    while True:
        body = fetch(query)
        data = body.get("data")
        if body.get("object") != "list" or not isinstance(data, list):
            raise ContractError(f"{path} did not answer with a list.")
        yield data
        if not body.get("has_more"):
            return
        last = body.get("last_id") or (data[-1].get("id") if data else None)
        if not last or last in seen:
            raise ContractError(f"{path} has more entries but no new cursor; stopping.")
        seen.add(last)
        query = {**params, "after": last}
