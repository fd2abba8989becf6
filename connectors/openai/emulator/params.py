"""Query-string parsing and validation, derived from the stream registry.

Array parameters are accepted in the three encodings clients use: repeated keys
(`group_by=a&group_by=b`), brackets (`group_by[]=a`) and one comma-joined value (except
`line_items`, whose names hold commas). Never kinder than OpenAI: a parameter the
endpoint does not take, an empty value and an empty or reversed range answer 400.
"""

from __future__ import annotations

import base64
import binascii
import struct
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl

from connectors.openai.emulator.errors import invalid
from connectors.openai.streams import (
    DIMENSIONS,
    STREAMS,
    WIDTH_SECONDS,
    Param,
    UsageStream,
    bucket_count,
)

Params = dict[str, list[str]]
_CURSOR = struct.Struct(">qI")


@dataclass(frozen=True)
class BucketQuery:
    """A usage or costs query, without its page."""

    stream: UsageStream
    start: int
    end: int | None  # None: up to now
    width: str = "1d"
    group_by: tuple[str, ...] = ()  # in the stream's order
    filters: tuple[tuple[str, frozenset], ...] = ()  # (dimension, accepted values)

    def signature(self) -> int:
        return zlib.crc32(
            repr(
                (self.stream.path, self.start, self.end, self.width, self.group_by, self.filters)
            ).encode()
        )


def parse_query(raw: bytes | str) -> Params:
    text = raw.decode("latin-1") if isinstance(raw, bytes) else raw
    params: Params = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        params.setdefault(key.removesuffix("[]"), []).append(value)
    return params


def array(params: Params, name: str) -> list[str]:
    return [item.strip() for value in params.get(name, []) for item in value.split(",")]


def check_known(params: Params, known: set[str] | frozenset[str]) -> None:
    """400 for a parameter the endpoint does not take, or any empty value."""
    for name, values in params.items():
        if name not in known:
            raise invalid(name, f"Unrecognized request argument supplied: {name}")
        for value in values:
            if not value.strip() or (name in _ARRAYS and "" in array({name: [value]}, name)):
                raise invalid(name, f"Invalid value for '{name}': empty values are not allowed.")


# Arrays that may come comma-joined, where an empty item (`group_by=model,`) is empty.
_ARRAYS = frozenset(
    param.api
    for stream in STREAMS.values()
    for param in stream.params
    if param.api and param.kind in ("groupby", "ids", "names", "emails", "enum")
    if not param.whole_lines
)
_PAGING = ("start_time", "end_time", "bucket_width", "limit", "page", "group_by")


def scalar(params: Params, name: str) -> str | None:
    values = params.get(name)
    return values[-1] if values else None


def integer(params: Params, name: str, *, required: bool = False) -> int | None:
    value = scalar(params, name)
    if value is None or value == "":
        if required:
            raise invalid(name, f"Missing required parameter: '{name}'.")
        return None
    try:
        return int(value)
    except ValueError:
        raise invalid(name, f"Invalid value for '{name}': expected an integer.") from None


def boolean(params: Params, name: str) -> bool | None:
    value = scalar(params, name)
    if value is None or value == "":
        return None
    lowered = value.lower()
    if lowered not in ("true", "false", "1", "0"):
        raise invalid(name, f"Invalid value for '{name}': expected a boolean.")
    return lowered in ("true", "1")


def bounded(params: Params, name: str, default: int, maximum: int) -> int:
    value = integer(params, name)
    if value is None:
        return default
    if not 1 <= value <= maximum:
        raise invalid(name, f"Invalid '{name}': must be between 1 and {maximum}, got {value}.")
    return value


def choice(params: Params, name: str, choices: tuple[str, ...], default: str | None) -> str | None:
    value = scalar(params, name)
    if value is None or value == "":
        return default
    if value not in choices:
        raise invalid(name, _not_supported(name, value, choices))
    return value


def _not_supported(name: str, value: str, choices: tuple[str, ...]) -> str:
    allowed = ", ".join(f"'{c}'" for c in choices)
    return f"Invalid value for '{name}': '{value}'. Supported values are: {allowed}."


def filter_dimension(stream: UsageStream, param: Param) -> str:
    """The result dimension a filter restricts: `project_ids` -> `project_id`."""
    for name in (param.api, param.api.removesuffix("s")):
        if name in stream.group_by or name in DIMENSIONS:
            return name
    raise LookupError(f"{stream.type}: no dimension for filter {param.api}")


def parse_bucket_query(stream: UsageStream, params: Params) -> tuple[BucketQuery, int, int | None]:
    """Validate a usage or costs request: (query, limit, page start or None)."""
    check_known(params, {*_PAGING, *(p.api for p in stream.filters)})
    start = integer(params, "start_time", required=True)
    end = integer(params, "end_time")
    if start < 0:
        raise invalid("start_time", "Invalid 'start_time': must be a positive Unix timestamp.")
    if end is not None and end <= start:
        raise invalid("end_time", "Invalid 'end_time': must be after 'start_time'.")
    width = choice(params, "bucket_width", stream.bucket_widths, "1d")
    default, maximum = stream.page_limit(width)
    limit = bounded(params, "limit", default, maximum)
    query = BucketQuery(
        stream, start, end, width, _group_by(stream, params, start), _filters(stream, params)
    )
    return query, limit, _page(params, query)


def _group_by(stream: UsageStream, params: Params, start: int) -> tuple[str, ...]:
    wanted = array(params, "group_by")
    for name in wanted:
        if name not in stream.group_by:
            raise invalid("group_by", _not_supported("group_by", name, stream.group_by))
    refused = stream.group_by_refused(wanted, start)
    if refused:
        name, since = refused
        day = datetime.fromtimestamp(since, UTC).date().isoformat()
        raise invalid(
            "group_by",
            f"Grouping {_noun(stream)} by {name} is only supported for start_time on or "
            f"after {since} ({day}).",
        )
    return tuple(d for d in stream.group_by if d in wanted)


def _noun(stream: UsageStream) -> str:
    return "costs" if stream.type == "costs" else f"{stream.type} usage"


def _filters(stream: UsageStream, params: Params) -> tuple[tuple[str, frozenset], ...]:
    found = []
    for param in stream.filters:
        if param.kind in ("tristate", "bool"):
            value = boolean(params, param.api)
            values = [] if value is None else [value]
        elif param.whole_lines:  # names with commas: one value per key
            values = [value.strip() for value in params.get(param.api, [])]
        else:
            values = array(params, param.api)
            for value in values if param.kind == "enum" else ():
                if value not in param.choices:
                    raise invalid(param.api, _not_supported(param.api, value, param.choices))
        if values:
            found.append((filter_dimension(stream, param), frozenset(values)))
    return tuple(found)


def _page(params: Params, query: BucketQuery) -> int | None:
    token = scalar(params, "page")
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token.removeprefix("page_").encode())
        start, signature = _CURSOR.unpack(raw)
    except (binascii.Error, struct.error, ValueError):
        raise invalid("page", "Invalid 'page': not a cursor returned by this endpoint.") from None
    if not token.startswith("page_") or signature != query.signature() or start <= query.start:
        raise invalid("page", "Invalid 'page': it does not belong to this query.")
    return start


def encode_cursor(next_start: int, query: BucketQuery) -> str:
    raw = _CURSOR.pack(next_start, query.signature())
    return "page_" + base64.urlsafe_b64encode(raw).decode()


def bucket_total(query: BucketQuery, end: int) -> int:
    moment = datetime.fromtimestamp
    return bucket_count(query.stream, query.width, moment(query.start, UTC), moment(end, UTC))


def first_start(query: BucketQuery) -> int:
    """Where the first bucket starts: costs buckets are floored to the UTC day."""
    day = WIDTH_SECONDS["1d"]
    return query.start // day * day if query.stream.floor_to_day else query.start


def bucket_edges(query: BucketQuery, end: int, first: int, count: int) -> list[int]:
    """Boundaries (Unix seconds) of buckets first .. first + count - 1."""
    width = WIDTH_SECONDS[query.width]
    start = first_start(query)
    base = start // width * width
    edges = [start if k == 0 else base + k * width for k in range(first, first + count + 1)]
    return [min(edge, end) for edge in edges]


def bucket_index(query: BucketQuery, moment: int) -> int | None:
    """The index of the bucket starting at `moment`, if one does."""
    width = WIDTH_SECONDS[query.width]
    start = first_start(query)
    base = start // width * width
    if moment == start:
        return 0
    if moment <= start or (moment - base) % width:
        return None
    return (moment - base) // width
