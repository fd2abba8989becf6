"""Writing one page of buckets: one statement, whatever the page's size.

On Postgres the page goes to the server as one JSON document and one INSERT ... SELECT
turns it into typed rows, upserts them and counts them: the per-cell work (parsing,
casting, the row key) runs in C. On other databases persistence.usage_rows builds the
same rows in Python. Both give the same columns, values and row keys.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.db import DataError, connection, models

from connectors.openai.pages import ContractError
from connectors.openai.persistence import (
    KEY_COLUMNS,
    Counts,
    known_fields,
    upsert,
    usage_rows,
)
from connectors.openai.streams import Field, UsageStream

CASTS = {"int": "bigint", "decimal": "numeric", "float": "double precision", "bool": "boolean"}


def _path(field: Field) -> str:
    """`r->'amount'->>'value'` for the dotted api name `amount.value`."""
    *parents, leaf = field.api.split(".")
    return "r" + "".join(f"->'{p}'" for p in parents) + f"->>'{leaf}'"


def _value(field: Field) -> str:
    cast = CASTS.get(field.type)
    return f"({_path(field)})::{cast}" if cast else _path(field)


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _statement(model: type[models.Model], stream: UsageStream) -> str:
    fields = (*stream.dimensions, *stream.metrics)
    dims = ", ".join(f"r->'{f.api}'" for f in stream.dimensions)
    columns = {
        "taskId": "%(task)s",
        "connectorId": "%(connector)s",
        "startTime": "to_timestamp((b->>'start_time')::bigint)",
        "endTime": "to_timestamp((b->>'end_time')::bigint)",
        "bucketWidth": "%(width)s",
        "rowKey": f"md5(jsonb_build_array({dims})::text)::uuid",
        "object": "coalesce(r->>'object', %(object)s)",
        "provisional": "(b->>'end_time')::bigint > %(provisional_after)s",
        "extra": "nullif(r - %(known)s::text[], '{}'::jsonb)",
        **{f.column: _value(f) for f in fields},
        "firstFetchedAt": "%(now)s",
        "lastFetchedAt": "%(now)s",
        "lastChangedAt": "%(now)s",
    }
    compared = [c for c in columns if c not in KEY_COLUMNS and not c.endswith("FetchedAt")]
    compared.remove("lastChangedAt")
    changed = " OR ".join(f"t.{_q(c)} IS DISTINCT FROM excluded.{_q(c)}" for c in compared)
    updates = ", ".join(f"{_q(c)} = excluded.{_q(c)}" for c in [*compared, "lastFetchedAt"])
    return (
        f"WITH written AS (INSERT INTO {_q(model._meta.db_table)} AS t "
        f"({', '.join(map(_q, columns))}) "
        f"SELECT {', '.join(columns.values())} "
        "FROM jsonb_array_elements(%(page)s::jsonb) AS b, "
        "jsonb_array_elements(b->'results') AS r "
        f"ON CONFLICT ({', '.join(map(_q, KEY_COLUMNS))}) DO UPDATE SET {updates}, "
        f"{_q('lastChangedAt')} = CASE WHEN {changed} THEN excluded.{_q('lastChangedAt')} "
        f"ELSE t.{_q('lastChangedAt')} END "
        f"RETURNING (xmax = 0) AS inserted, {_q('lastChangedAt')} = %(now)s AS changed) "
        "SELECT count(*) FILTER (WHERE inserted), "
        "count(*) FILTER (WHERE changed AND NOT inserted), "
        "count(*) FILTER (WHERE NOT changed) FROM written"
    )


_STATEMENTS: dict[str, str] = {}


def write_page(
    model: type[models.Model],
    stream: UsageStream,
    width: str,
    task_id: int,
    connector_id: int,
    buckets: list[dict[str, Any]],
    provisional_after: int,
    fetched_at: datetime,
) -> Counts:
    """Upsert one page of buckets with one statement; count inserted/updated/unchanged."""
    if connection.vendor != "postgresql":
        rows = usage_rows(stream, width, task_id, connector_id, buckets, provisional_after)
        return upsert(model, rows, fetched_at)
    sql = _STATEMENTS.get(stream.type) or _STATEMENTS.setdefault(
        stream.type, _statement(model, stream)
    )
    params = {
        "task": task_id,
        "connector": connector_id,
        "width": width,
        "object": stream.result_object,
        "provisional_after": provisional_after,
        "known": sorted(known_fields(stream)),
        "now": fetched_at,
        "page": json.dumps(buckets, ensure_ascii=False),
    }
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            inserted, updated, unchanged = cursor.fetchone()
    except DataError as error:
        reason = str(error).splitlines()[0]
        raise ContractError(
            f"{stream.path} returned a value of the wrong type: {reason}."
        ) from None
    return Counts(inserted, updated, unchanged)
