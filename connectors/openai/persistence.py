"""API results → typed rows, and the upsert that writes a page of them in one statement.

The upsert keys on (task, bucket width, bucket start, rowKey); rowKey folds every
dimension, NULLs included, into a UUID, so an empty dimension never escapes the unique
constraint. One statement whatever the page's size: Postgres reads the rows from typed
arrays (unnest), SQLite from one JSON document (json_each). On Postgres the writer
(writer.py) takes it only for pages raced by another writer; SQLite takes it always.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from operator import itemgetter
from typing import Any

from django.db import connection, models

from connectors.openai.pages import ContractError
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
_JSON_WORDS = {None: "null", True: "true", False: "false"}


def _key_text(dims: list[Any]) -> str:
    """json.dumps(dims, ensure_ascii=False), which is how Postgres prints the array, built
    part by part: the dimensions are strings, booleans or empty."""
    parts = []
    for value in dims:
        if type(value) is str:
            parts.append(_JSON_STRING(value))
        elif value is None or type(value) is bool:
            parts.append(_JSON_WORDS[value])
        else:
            parts.append(json.dumps(value, ensure_ascii=False))
    return "[" + ", ".join(parts) + "]"


def row_key(dims: list[Any]) -> uuid.UUID:
    """The dimensions as one value: the MD5 of their JSON array, as Postgres prints it."""
    digest = hashlib.md5(_key_text(dims).encode(), usedforsecurity=False).digest()
    return uuid.UUID(bytes=digest)


_ROW_KEYS: dict[tuple, uuid.UUID] = {}
_ROW_KEYS_LIMIT = 200_000  # about 40 MB at most; a busy org has a few thousand groups


def _row_key_of(dims: tuple) -> uuid.UUID:
    """row_key, remembered: the same groups come back bucket after bucket. Keyed by the
    values with their types, so that 1 and True (equal in Python) stay apart."""
    memo = (dims, tuple(map(type, dims)))
    found = _ROW_KEYS.get(memo)
    if found is None:
        if len(_ROW_KEYS) >= _ROW_KEYS_LIMIT:
            _ROW_KEYS.clear()
        found = _ROW_KEYS[memo] = row_key(list(dims))
    return found


def _lookup(result: dict[str, Any], dotted: str) -> Any:
    value: Any = result
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _typed(field: Field, value: Any, path: str) -> Any:
    if value is None:
        return None
    try:
        if field.type == "int":
            if isinstance(value, bool) or not float(value).is_integer():
                raise ValueError
            return int(value)
        if field.type == "decimal":
            if isinstance(value, bool | str):
                raise ValueError
            return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        if field.type == "float":
            return float(value)
        if field.type == "bool":
            if not isinstance(value, bool):
                raise ValueError
            return value
        return str(value)
    except (TypeError, ValueError, InvalidOperation):
        raise ContractError(
            f"{path} returned {field.api}={str(value)[:40]!r}, which is not a {field.type}."
        ) from None


# The Python type of a field's values when the API sends them as documented: such a value
# is kept as it is; any other goes through _typed, which converts or refuses it.
_AS_SENT = {"int": int, "float": float, "bool": bool, "str": str}


@dataclass
class Rows:
    """A page's rows: their columns once, then one tuple of values per row (a tuple is a
    fraction of the size of a dict, and a page holds thousands)."""

    columns: tuple[str, ...]
    values: list[tuple]

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
        return Rows(self.columns, passed), Rows(self.columns, failed)

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.values]


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
    seconds) may still be revised by OpenAI and is marked provisional."""
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
    pick_dims = _picker(dims)
    known = known_fields(stream)
    default_object = stream.result_object
    values = []
    for bucket in buckets:
        common = (
            task_id,
            connector_id,
            datetime.fromtimestamp(bucket["start_time"], UTC),
            datetime.fromtimestamp(bucket["end_time"], UTC),
            width,
            bucket["end_time"] > provisional_after,
        )
        for result in bucket["results"]:
            if not isinstance(result, dict):
                raise ContractError(f"{path} returned a result that is not an object.")
            try:  # OpenAI sends every field, null when empty
                row = pick(result)
            except KeyError:
                row = tuple(result.get(api) for api in apis)
            if nested or tuple(map(type, row)) not in as_sent:
                row = _checked(row, checks, nested, result, path, as_sent)
            extra = None
            if not result.keys() <= known:
                extra = {k: v for k, v in result.items() if k not in known}
            key = _row_key_of(pick_dims(row))
            values.append((*row, *common, key, str(result.get("object") or default_object), extra))
    columns = (*(f.column for f in order), *_BUCKET_COLUMNS, "rowKey", "object", "extra")
    return Rows(columns, values)


def _checked(row: tuple, checks, nested: list[Field], result: dict, path: str, as_sent: set):
    """The row with every value typed as its field (ContractError when one cannot be), and
    nested fields appended. A row whose values all came as documented adds its types to
    `as_sent`, so that the rows like it skip this."""
    typed = list(row)
    documented = True
    for i, expected, field in checks:
        value = typed[i]
        if value is not None and type(value) is not expected:
            typed[i] = _typed(field, value, path)
            documented = False
    if documented and not nested:
        as_sent.add(tuple(map(type, row)))
    typed.extend(_typed(field, _lookup(result, field.api), path) for field in nested)
    return tuple(typed)


def _picker(positions: list[int]) -> Callable[[tuple], tuple]:
    """seq -> the tuple of seq's items at `positions` (itemgetter, always a tuple)."""
    if len(positions) == 1:
        at = positions[0]
        return lambda seq: (seq[at],)
    return itemgetter(*positions) if positions else lambda seq: ()


def upsert(model: type[models.Model], rows: Rows, fetched_at: datetime) -> Counts:
    """Insert new rows, update changed ones in place; count each kind. One statement."""
    if not rows:
        return Counts()
    fields = {f.column: f for f in model._meta.concrete_fields if not f.primary_key}
    columns = list(rows.columns)
    stamps = ("firstFetchedAt", "lastFetchedAt", "lastChangedAt")
    compared = [c for c in columns if c not in KEY_COLUMNS]
    table = _q(model._meta.db_table)
    source = _source_sql(columns, fields)
    # Every identifier comes from the model and is quoted; values travel as parameters.
    sql = (
        f"INSERT INTO {table} AS t ({', '.join(map(_q, [*columns, *stamps]))}) "
        f"SELECT {', '.join(f's.{_q(c)}' for c in columns)}, %s, %s, %s FROM {source} "
        # SQLite needs a WHERE here to tell SELECT from the ON CONFLICT clause.
        f"WHERE true ON CONFLICT ({', '.join(map(_q, KEY_COLUMNS))}) DO UPDATE SET "
        + ", ".join(f"{_q(c)} = excluded.{_q(c)}" for c in [*compared, "lastFetchedAt"])
        + f", {_q('lastChangedAt')} = CASE WHEN {_changed(compared)} "
        f"THEN excluded.{_q('lastChangedAt')} ELSE t.{_q('lastChangedAt')} END "
        f"RETURNING {_q('firstFetchedAt')}, {_q('lastChangedAt')}"
    )
    stamp = fields["firstFetchedAt"].get_db_prep_value(fetched_at, connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, [stamp, stamp, stamp, *_source_params(rows, fields)])
        returned = cursor.fetchall()
    return _count(returned, stamp)


def _count(returned: list[tuple], stamp: Any) -> Counts:
    counts = Counts()
    for first, changed in returned:
        if _same(first, stamp):
            counts.inserted += 1
        elif _same(changed, stamp):
            counts.updated += 1
        else:
            counts.unchanged += 1
    return counts


def _same(value: Any, stamp: Any) -> bool:
    """Compare a returned stamp with the one sent, whether as datetimes or as text."""

    def text(v: Any) -> str:
        return v.replace(tzinfo=None).isoformat(" ") if isinstance(v, datetime) else str(v)

    return text(value) == text(stamp)


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _changed(columns: list[str]) -> str:
    operator = "IS DISTINCT FROM" if connection.vendor == "postgresql" else "IS NOT"
    return " OR ".join(f"t.{_q(c)} {operator} excluded.{_q(c)}" for c in columns)


def _source_sql(columns: list[str], fields: dict[str, models.Field]) -> str:
    if connection.vendor == "postgresql":
        arrays = ", ".join(f"%s::{_array_type(fields[c])}" for c in columns)
        return f"unnest({arrays}) AS s({', '.join(map(_q, columns))})"
    picks = ", ".join(f"json_extract(value, '$[{i}]') AS {_q(c)}" for i, c in enumerate(columns))
    return f"(SELECT {picks} FROM json_each(%s)) AS s"


def _array_type(field: models.Field) -> str:
    db_type = field.db_type(connection)
    if isinstance(field, models.ForeignKey):
        db_type = field.target_field.rel_db_type(connection)
    return f"{db_type}[]"


def _source_params(rows: Rows, fields: dict[str, models.Field]) -> list[Any]:
    def prep(column: str, value: Any) -> Any:  # None is SQL NULL, also for JSON columns
        return None if value is None else fields[column].get_db_prep_value(value, connection)

    columns = rows.columns
    prepared = [[prep(c, v) for c, v in zip(columns, row, strict=True)] for row in rows.values]
    if connection.vendor == "postgresql":
        return [list(values) for values in zip(*prepared, strict=True)]
    return [json.dumps(prepared, default=str)]
