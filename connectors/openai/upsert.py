"""The upsert that writes a page of rows in one statement: new rows inserted, changed ones
updated in place, each kind counted.

The upsert keys on (task, bucket width, bucket start, rowKey) (`persistence.KEY_COLUMNS`).
One statement whatever the page's size: Postgres reads the rows from typed arrays
(unnest), SQLite from one JSON document (json_each). On Postgres the writer (writer.py)
takes it only for pages raced by another writer; SQLite takes it always.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.db import connection, models

from connectors.openai.persistence import KEY_COLUMNS, Counts, Rows


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
