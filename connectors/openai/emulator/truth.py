"""Ground truth: what a correct collector ends up with, computed in process.

Tests compare a collector's rows with these functions instead of pasting numbers. They
share the data with the HTTP answers but not the paging, parsing and serialisation.
"""

from __future__ import annotations

from decimal import Decimal

from connectors.openai.emulator.pages import Finality, buckets
from connectors.openai.emulator.params import bucket_total, parse_bucket_query
from connectors.openai.emulator.usage import OrgData
from connectors.openai.streams import STREAMS


def ground_truth(
    data: OrgData,
    finality: Finality,
    stream_type: str,
    *,
    now: int,
    start: int,
    end: int | None = None,
    bucket_width: str = "1d",
    group_by: tuple[str, ...] | list[str] = (),
    filters: dict[str, object] | None = None,
) -> list[dict]:
    """Every bucket of a usage or costs query (all pages) of the organization `data`,
    as the API returns them at `now` (Unix seconds).

    `filters` uses the API's parameter names: {"project_ids": [...], "batch": True}.
    """
    params = {
        "start_time": [str(start)],
        "bucket_width": [bucket_width],
        "group_by": list(group_by),
    }
    if end is not None:
        params["end_time"] = [str(end)]
    for name, values in (filters or {}).items():
        items = values if isinstance(values, list | tuple | set | frozenset) else [values]
        params[name] = [str(v).lower() if isinstance(v, bool) else str(v) for v in items]
    query, _, _ = parse_bucket_query(STREAMS[stream_type], params)
    stop = now if end is None else end
    return buckets(data, finality, query, stop, 0, bucket_total(query, stop), now)


def totals(buckets: list[dict]) -> dict[str, int | Decimal]:
    """The sum of every numeric metric over all results (amounts as exact Decimals)."""
    sums: dict[str, int | Decimal] = {}
    for bucket in buckets:
        for result in bucket["results"]:
            for name, value in _numbers(result):
                sums[name] = sums.get(name, 0) + value
    return sums


def _numbers(result: dict, prefix: str = ""):
    for name, value in result.items():
        if isinstance(value, dict):
            yield from _numbers(value, f"{prefix}{name}.")
        elif isinstance(value, float):
            yield prefix + name, Decimal(str(value))
        elif isinstance(value, int) and not isinstance(value, bool):
            yield prefix + name, value
