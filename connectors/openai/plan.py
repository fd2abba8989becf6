"""From a task's stored parameters to the API queries a run makes, and what they cost.

Parameters are keyed by technical name (`completions-StartTime`). With `all` each
stream reads its own section; with `generic` every stream reads the shared `generic-...`
set and drops what its endpoint does not support (costs always uses 1d buckets).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from connectors.openai.streams import (
    DIRECTORY_PAGE_LIMIT,
    STREAMS,
    DirectoryStream,
    Param,
    Stream,
    UsageStream,
    bucket_count,
    generic_params,
    request_count,
    streams_for,
)


def parse_time(value: str) -> datetime:
    """A date (00:00 UTC of that day) or an ISO date-time; naive times are UTC."""
    text = value.strip()
    if len(text) == 10:
        return datetime.combine(date.fromisoformat(text), time(), tzinfo=UTC)
    moment = datetime.fromisoformat(text.replace(" ", "T", 1))
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def format_time(moment: datetime) -> str:
    """The stored form: a bare date at midnight, else an ISO date-time in UTC."""
    moment = moment.astimezone(UTC)
    if moment.time() == time():
        return moment.date().isoformat()
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def params_for(prefix: str) -> tuple[Param, ...]:
    """The parameters a form section with this prefix shows."""
    if prefix == "generic":
        return generic_params()
    return STREAMS[prefix].params


@dataclass(frozen=True)
class StreamQuery:
    """What one stream of a run asks the API for."""

    stream: Stream
    start: datetime | None = None
    end: datetime | None = None
    width: str | None = None
    group_by: tuple[str, ...] = ()
    filters: dict[str, Any] = field(default_factory=dict)


def stream_queries(query_type: str, parameters: dict[str, Any]) -> list[StreamQuery]:
    queries = []
    for stream in streams_for(query_type):
        prefix = "generic" if query_type == "generic" else stream.type
        values = {p.suffix: parameters.get(f"{prefix}-{p.suffix}") for p in params_for(prefix)}
        queries.append(_query(stream, values))
    return queries


def _query(stream: Stream, values: dict[str, Any]) -> StreamQuery:
    supported = {p.suffix: p for p in stream.params}
    filters = {
        (param.api or param.suffix): values[suffix]
        for suffix, param in supported.items()
        if param.kind in ("ids", "names", "emails", "enum", "tristate", "bool")
        and values.get(suffix) not in (None, [], "")
    }
    if isinstance(stream, DirectoryStream):
        return StreamQuery(stream=stream, filters=filters)
    width = values.get("BucketWidth") or "1d"
    return StreamQuery(
        stream=stream,
        start=parse_time(values["StartTime"]) if values.get("StartTime") else None,
        end=parse_time(values["EndTime"]) if values.get("EndTime") else None,
        width=width if width in stream.bucket_widths else "1d",
        group_by=tuple(g for g in values.get("GroupBy") or () if g in stream.group_by),
        filters=filters,
    )


@dataclass(frozen=True)
class Estimate:
    """The API requests a full run of one stream makes."""

    query: StreamQuery
    buckets: int | None
    page_size: int
    requests: int  # the minimum; directory lists need one more per extra page
    note: str = ""


def estimate(query: StreamQuery, now: datetime) -> Estimate:
    stream = query.stream
    if isinstance(stream, UsageStream):
        start, end = query.start or now, min(query.end or now, now)
        _, largest = stream.page_limit(query.width)
        return Estimate(
            query,
            bucket_count(stream, query.width, start, end),
            largest,
            request_count(stream, query.width, start, end),
        )
    if stream.per_project:
        note = f"one request per project and per {DIRECTORY_PAGE_LIMIT} keys"
        projects = len(query.filters.get("ProjectIds") or ()) or 1
        return Estimate(query, None, DIRECTORY_PAGE_LIMIT, projects, note)
    note = f"one request per {DIRECTORY_PAGE_LIMIT} {stream.table}"
    return Estimate(query, None, DIRECTORY_PAGE_LIMIT, 1, note)
