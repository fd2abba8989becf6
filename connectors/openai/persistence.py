"""API results → typed rows, checked, each with its row key (the upsert that writes them
is upsert.py).

Every value is checked against the API's contract and what its column can hold: a breach
is a ContractError naming the endpoint, the field and the value, never a database error
halfway through a page (integers beyond bigint are found by COPY's own encoding, for free,
and named then).

A row is keyed on (task, bucket width, bucket start, rowKey); rowKey folds the non-null
dimensions, by name, into a UUID, so an empty dimension never escapes the unique
constraint and a dimension the registry gains leaves existing keys alone.
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Context, Decimal, InvalidOperation
from operator import itemgetter
from typing import Any

from connectors.openai.pages import ContractError, check_times, excerpt
from connectors.openai.streams import Field, UsageStream

KEY_COLUMNS = ("taskId", "bucketWidth", "startTime", "rowKey")


@dataclass
class Counts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


def known_fields(stream: UsageStream) -> set[str]:
    """The result fields the table has columns for; any other lands in `extra`."""
    return {f.api.split(".")[0] for f in (*stream.dimensions, *stream.metrics)} | {"object"}


_JSON_STRING = json.encoder.encode_basestring  # a str as JSON, non-ASCII kept (C)
_JSON_WORDS = {True: "true", False: "false"}


def key_text(dims: Mapping[str, Any]) -> str:
    """The non-null dimensions as a JSON object, printed as Postgres prints a jsonb: keys
    shortest first, then bytewise; ", " and ": " between; strings escaped alike (quote,
    backslash, control characters; non-ASCII kept)."""
    pairs = sorted(
        ((name, value) for name, value in dims.items() if value is not None),
        key=lambda pair: (len(pair[0].encode()), pair[0].encode()),
    )
    return "{" + ", ".join(f"{_JSON_STRING(n)}: {_json_value(v)}" for n, v in pairs) + "}"


def _json_value(value: Any) -> str:
    if type(value) is str:
        return _JSON_STRING(value)
    if type(value) is bool:
        return _JSON_WORDS[value]
    return json.dumps(value, ensure_ascii=False)


def row_key(dims: Mapping[str, Any]) -> uuid.UUID:
    """The dimensions as one value: the MD5 of the JSON object of the non-null ones, keyed
    by API name. A dimension the registry gains is NULL in the rows collected before, so
    it leaves their keys as they were: a re-read updates them in place."""
    digest = hashlib.md5(key_text(dims).encode(), usedforsecurity=False).digest()
    return uuid.UUID(bytes=digest)


def row_key_sql(columns: Mapping[str, str]) -> str:
    """row_key as a SQL expression (Postgres) over the columns holding each dimension:
    {API name: quoted column}."""
    pairs = ", ".join(f"'{name}', {column}" for name, column in columns.items())
    return f"md5(jsonb_strip_nulls(jsonb_build_object({pairs}))::text)::uuid"


# For each stream's dimension names: (values, their types) -> row_key.
_ROW_KEYS: dict[tuple[str, ...], dict[tuple, uuid.UUID]] = {}
_ROW_KEYS_LIMIT = 200_000  # about 40 MB a stream at most; a busy org has a few thousand


def _row_keys(names: tuple[str, ...]) -> Callable[[tuple, str, dict], uuid.UUID]:
    """row_key of the dimensions `names`, remembered: the same groups come back bucket
    after bucket. Keyed by the values with their types, so that 1 and True (equal in
    Python) stay apart. A new group's strings are checked once, here, for what no text
    column can hold."""
    memo = _ROW_KEYS.setdefault(names, {})

    def key_of(values: tuple, path: str, result: dict) -> uuid.UUID:
        remembered = (values, tuple(map(type, values)))
        found = memo.get(remembered)
        if found is None:
            dims = dict(zip(names, values, strict=True))
            for name, value in dims.items():
                if type(value) is str:
                    _check_text(name, value, path, result)
            if len(memo) >= _ROW_KEYS_LIMIT:
                memo.clear()
            found = memo[remembered] = row_key(dims)
        return found

    return key_of


def _lookup(result: dict[str, Any], dotted: str) -> Any:
    value: Any = result
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


# What the columns hold: bigint; numeric(38, 18), 20 digits before the point. SQLite keeps
# a decimal as a double that Django reads back to 15 significant digits: an amount that
# rounds there to 10**20 no longer fits numeric(38, 18), and every read of its row raises
# InvalidOperation. The limit is taken after that rounding, on both databases.
_INT_RANGE = (-(2**63), 2**63 - 1)
_DECIMAL_LIMIT = Decimal(10) ** 20
_AS_SQLITE_READS = Context(prec=15)


def _typed(field: Field, value: Any, path: str, result: Any = None) -> Any:
    """`value` as its field's type; ContractError when it is not one, or when no column
    could hold it (it would fail the whole page's COPY)."""
    if value is None:
        if field.required:
            raise breach(path, field.api, value, "a required field is empty", result)
        return None
    try:
        typed = _convert(field.type, value)
    except (ValueError, OverflowError, InvalidOperation) as error:
        if field.type == "int" and type(value) is float and value.is_integer():
            value = int(value)  # a large integer the JSON parser made a float
        raise breach(path, field.api, value, str(error) or "wrong type", result) from None
    if type(typed) is str:
        _check_text(field.api, typed, path, result)
    return typed


def _convert(kind: str, value: Any) -> Any:
    if kind == "int":
        if type(value) is float and value.is_integer():
            value = int(value)  # JSON's 7.0 is the integer 7
        if type(value) is not int:
            raise ValueError("which is not an integer")
        if not _INT_RANGE[0] <= value <= _INT_RANGE[1]:
            raise ValueError("which is beyond a 64-bit integer")
        return value
    if kind in ("decimal", "float"):
        if type(value) not in (int, float):
            raise ValueError("which is not a number")
        if kind == "float":
            if not math.isfinite(value):
                raise ValueError("which is not a finite number")
            return float(value)
        return _decimal(value)
    if kind == "bool":
        if type(value) is not bool:
            raise ValueError("which is not true or false")
        return value
    if type(value) is not str:
        raise ValueError("which is not a string")
    return value


def _decimal(value: int | float) -> Decimal:
    number = Decimal(repr(value)) if type(value) is float else Decimal(value)
    if not number.is_finite():
        raise ValueError("which is not a finite number")
    if abs(_AS_SQLITE_READS.create_decimal(number)) >= _DECIMAL_LIMIT:
        raise ValueError("which is beyond the 20 digits before the decimal point a column holds")
    return number


def _check_text(name: str, value: str, path: str, result: Any = None) -> None:
    """Refuse what no text column can hold: NUL, and lone surrogates (not Unicode)."""
    if "\x00" in value:
        raise breach(path, name, value, "which holds a NUL character", result)
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:
            raise breach(path, name, value, "which is not valid Unicode", result) from None


def breach(path: str, name: str, value: Any, why: str, result: Any = None) -> ContractError:
    """The ContractError for field `name` of a result: path, field and value (cut short)
    in words, the result (or the value) as the excerpt."""
    shown = excerpt(value, 80)
    return ContractError(
        f"{path} returned {name}={shown}, {why}.",
        excerpt(result if result is not None else {name: value}),
    )


# The Python type of a field's values when the API sends them as documented: such a value
# is kept as it is; any other goes through _typed, which converts or refuses it.
_AS_SENT = {"int": int, "float": float, "bool": bool, "str": str}


@dataclass
class Rows:
    """A page's rows: their columns once, then one tuple of values per row (a tuple is a
    fraction of the size of a dict, and a page holds thousands)."""

    columns: tuple[str, ...]
    values: list[tuple]
    stream: UsageStream | None = None  # whose answer they come from

    def __len__(self) -> int:
        return len(self.values)

    def column(self, name: str) -> list[Any]:
        at = self.columns.index(name)
        return [row[at] for row in self.values]

    def split(self, test: Callable[[tuple], bool]) -> tuple[Rows, Rows]:
        """(the rows that pass `test`, the others)."""
        passed: list[tuple] = []
        failed: list[tuple] = []
        for row in self.values:
            (passed if test(row) else failed).append(row)
        return Rows(self.columns, passed, self.stream), Rows(self.columns, failed, self.stream)


_BUCKET_COLUMNS = ("taskId", "connectorId", "startTime", "endTime", "bucketWidth", "provisional")


def usage_rows(
    stream: UsageStream,
    width: str,
    task_id: int,
    connector_id: int,
    buckets: list[dict[str, Any]],
    provisional_after: int,
) -> Rows:
    """One row per bucket and result; a bucket ending after `provisional_after` (epoch
    seconds) may still be revised by OpenAI and is marked provisional. Any value that
    breaks the API's contract, or that no column could hold, is a ContractError here
    (an integer beyond bigint: in the writer, as COPY encodes it)."""
    path = stream.path
    fields = (*stream.dimensions, *stream.metrics)
    plain = [f for f in fields if "." not in f.api]
    nested = [f for f in fields if "." in f.api]
    apis = [f.api for f in plain]
    pick = itemgetter(*apis) if len(apis) > 1 else lambda result: (result[apis[0]],)
    checks = [(i, _AS_SENT.get(f.type), f) for i, f in enumerate(plain)]
    as_sent: set[tuple[type, ...]] = set()  # rows' value types found as documented
    order = [*plain, *nested]
    dims = [order.index(f) for f in stream.dimensions]
    key_of = _row_keys(tuple(f.api for f in stream.dimensions))
    texts = [i for i, f in enumerate(plain) if f.type == "str" and i not in dims]
    pick_dims = _picker(dims)
    known = known_fields(stream)
    default_object = stream.result_object
    values = []
    for bucket in buckets:
        common = _bucket_columns(bucket, path, task_id, connector_id, width, provisional_after)
        groups = []
        for result in bucket["results"]:
            if not isinstance(result, dict):
                raise breach(path, "results[]", result, "which is not an object", bucket)
            try:  # OpenAI sends every field, null when empty
                row = pick(result)
            except KeyError:
                row = _missing_checked(result, plain, path)
            if nested or tuple(map(type, row)) not in as_sent:
                row = _checked(row, checks, nested, result, path, as_sent)
            for i in texts:
                if row[i] is not None:
                    _check_text(apis[i], row[i], path, result)
            extra = None
            if not result.keys() <= known:
                extra = {k: v for k, v in result.items() if k not in known}
                _check_extra(extra, path, result)
            group = pick_dims(row)
            groups.append(group)
            key = key_of(group, path, result)
            values.append((*row, *common, key, str(result.get("object") or default_object), extra))
        if len(set(groups)) < len(groups):
            raise _repeated(bucket, groups, stream)
    columns = (*(f.column for f in order), *_BUCKET_COLUMNS, "rowKey", "object", "extra")
    return Rows(columns, values, stream)


def _bucket_columns(bucket: Any, path: str, *owners_width: Any) -> tuple:
    """(task, connector, start, end, width, provisional) of a bucket, checked first."""
    task_id, connector_id, width, provisional_after = owners_width
    if not isinstance(bucket, dict):
        raise breach(path, "data[]", bucket, "which is not a bucket")
    check_times(bucket, path)
    if not isinstance(bucket.get("results"), list | tuple):
        raise breach(path, "results", bucket.get("results"), "which is not a list", bucket)
    start, end = bucket["start_time"], bucket["end_time"]
    stamps = (datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC))
    return (task_id, connector_id, *stamps, width, end > provisional_after)


def _missing_checked(result: dict, plain: list[Field], path: str) -> tuple:
    """The plain fields' values of a result that lacks some: None for the optional ones;
    a missing required field is a ContractError."""
    for field in plain:
        if field.required and field.api not in result:
            raise ContractError(
                f"{path} returned a result without {field.api}, which is required.",
                excerpt(result),
            )
    return tuple(result.get(f.api) for f in plain)


def _checked(row: tuple, checks, nested: list[Field], result: dict, path: str, as_sent: set):
    """The row with every value typed as its field (ContractError when one cannot be), and
    nested fields appended. A row whose values all came as documented adds its types to
    `as_sent`, so that the rows like it skip this."""
    typed = list(row)
    documented = True
    for i, expected, field in checks:
        value = typed[i]
        if (value is None and field.required) or (
            value is not None and type(value) is not expected
        ):
            typed[i] = _typed(field, value, path, result)
            documented = False
    if documented and not nested:
        as_sent.add(tuple(map(type, row)))
    typed.extend(_typed(field, _lookup(result, field.api), path, result) for field in nested)
    return tuple(typed)


def _check_extra(extra: dict[str, Any], path: str, result: dict) -> None:
    """Fields the registry does not know go to `extra` (jsonb) as sent, if jsonb can hold
    them: no NUL or lone surrogate in a string, no NaN or Infinity."""
    for name, value in extra.items():
        for item in _scalars(value):
            if type(item) is float and not math.isfinite(item):
                raise breach(path, name, value, "which is not a finite number", result)
            if type(item) is str:
                _check_text(name, item, path, result)


def _scalars(value: Any):
    """Every string (keys too), number and word in a JSON value."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _scalars(item)
    elif isinstance(value, list):
        for item in value:
            yield from _scalars(item)
    else:
        yield value


def _repeated(bucket: dict, groups: list[tuple], stream: UsageStream) -> ContractError:
    """Two results of one bucket with the same dimensions: they would be one row. Either
    they differ in a dimension the registry does not know yet, or OpenAI repeated one."""
    known = known_fields(stream)
    group = next(g for g in groups if groups.count(g) > 1)
    dims = {f.api: v for f, v in zip(stream.dimensions, group, strict=True) if v is not None}
    twins = [r for r, g in zip(bucket["results"], groups, strict=True) if g == group]
    unknown = sorted({k for r in twins for k in r if k not in known})
    differ = {k: {excerpt(r.get(k), 40) for r in twins} for k in unknown}
    differ = {k: sorted(shown) for k, shown in differ.items() if len(shown) > 1}
    start = datetime.fromtimestamp(bucket["start_time"], UTC).isoformat()
    path = stream.path
    what = "a group sent twice"
    if differ:
        named = "; ".join(f"{k}: {', '.join(shown)}" for k, shown in differ.items())
        what = f"they differ only in a field the Data Hub does not know yet ({named})"
    return ContractError(
        f"{path} returned two results for the bucket starting {start} with the same "
        f"dimensions {excerpt(dims, 120)}: {what}.",
        excerpt(twins),
    )


def check_int_ranges(rows: Rows) -> None:
    """Every integer within bigint, or a ContractError naming the first that is not.
    Binary COPY checks this itself as it encodes (OverflowError), at no cost: the writer
    calls this after COPY refused a value, to name it, and before an upsert."""
    if rows.stream is None:
        return
    low, high = _INT_RANGE
    for field in (*rows.stream.dimensions, *rows.stream.metrics):
        if field.type != "int":
            continue
        at = rows.columns.index(field.column)
        column = list(filter(None, map(itemgetter(at), rows.values)))  # no None, no 0
        if column and (min(column) < low or max(column) > high):
            row = next(r for r in rows.values if r[at] and not low <= r[at] <= high)
            shown = {f.api: row[rows.columns.index(f.column)] for f in rows.stream.dimensions}
            raise breach(
                rows.stream.path,
                field.api,
                row[at],
                "which is beyond a 64-bit integer",
                {**shown, field.api: row[at]},
            )


def _picker(positions: list[int]) -> Callable[[tuple], tuple]:
    """seq -> the tuple of seq's items at `positions` (itemgetter, always a tuple)."""
    if len(positions) == 1:
        at = positions[0]
        return lambda seq: (seq[at],)
    return itemgetter(*positions) if positions else lambda seq: ()
