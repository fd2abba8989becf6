"""Row keys over the non-null dimensions, by name (issue 14).

A usage row's rowKey was the MD5 of the JSON array of all its stream's dimensions in the
registry's order, so a dimension added to the registry changed every key, and the next
re-read inserted each row again beside the old one. The key is now persistence.row_key:
the MD5 of the JSON object of the non-null dimensions, keyed by API name, as Postgres
prints a jsonb. This rewrites the stored keys of every usage table and of its daily
rollup, whose rows carry the key of the rows they sum.

On Postgres one UPDATE a table, the key computed in SQL (persistence.row_key_sql), with
the table's indexes dropped and built again after it: the tables hold tens of millions of
rows. On other databases (the embedded SQLite) in
Python, a batch of rows at a time. Backwards, the old keys, computed the old way.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import migrations, models

from connectors.openai.persistence import row_key, row_key_sql

# The dimensions as of this migration: API name -> column.
DIMENSIONS = {
    "project_id": "projectId",
    "user_id": "userId",
    "api_key_id": "apiKeyId",
    "model": "model",
    "batch": "batch",
    "service_tier": "serviceTier",
    "size": "size",
    "source": "source",
    "vector_store_id": "vectorStoreId",
    "context_level": "contextLevel",
    "line_item": "lineItem",
}
BATCH = 5000


def keyed_tables(apps) -> list[tuple[type[models.Model], dict[str, models.Field]]]:
    """Every table with a rowKey (the usage tables and their daily rollups), with its
    dimensions {API name: field} in the order of its columns, which is the registry's."""
    tables = []
    for model in apps.get_app_config("connectors").get_models():
        fields = {f.column: f for f in model._meta.concrete_fields}
        if "rowKey" not in fields:
            continue
        dims = {api: fields[column] for api, column in DIMENSIONS.items() if column in fields}
        order = list(fields)
        tables.append((model, dict(sorted(dims.items(), key=lambda d: order.index(d[1].column)))))
    return tables


def old_row_key(dims: dict[str, Any]) -> uuid.UUID:
    """The key before this migration: the MD5 of the JSON array of every dimension."""
    text = json.dumps(list(dims.values()), ensure_ascii=False)
    return uuid.UUID(bytes=hashlib.md5(text.encode(), usedforsecurity=False).digest())


def old_row_key_sql(columns: dict[str, str]) -> str:
    return f"md5(jsonb_build_array({', '.join(columns.values())})::text)::uuid"


def rekey(apps, schema_editor, key: Callable, key_sql: Callable) -> None:
    connection = schema_editor.connection
    q = connection.ops.quote_name
    for model, dims in keyed_tables(apps):
        if connection.vendor != "postgresql":
            _rekey_in_batches(model, dims, key, connection)
            continue
        columns = {api: q(field.column) for api, field in dims.items()}
        table = q(model._meta.db_table)
        with connection.cursor() as cursor, _indexes_rebuilt(cursor, table, q):
            cursor.execute(f"UPDATE {table} SET {q('rowKey')} = {key_sql(columns)}")


@contextmanager
def _indexes_rebuilt(cursor, table: str, q: Callable[[str], str]) -> Iterator[None]:
    """Drop the table's indexes but its primary key, and build them again afterwards:
    every row's new version would otherwise add an entry to each of them, one at a time
    (about half the time of a 2M-row table's UPDATE went there)."""
    cursor.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype = 'u'",
        [table],
    )
    constraints = cursor.fetchall()
    cursor.execute(
        "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
        "WHERE indrelid = %s::regclass AND NOT indisprimary AND NOT EXISTS "
        "(SELECT 1 FROM pg_constraint WHERE conindid = indexrelid)",
        [table],
    )
    indexes = cursor.fetchall()
    # ALTER TABLE refuses a table with foreign-key checks still pending in the transaction
    # (rows added in it, as the tests do): run them now, and defer again afterwards.
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    for name, _ in constraints:
        cursor.execute(f"ALTER TABLE {table} DROP CONSTRAINT {q(name)}")
    for name, _ in indexes:
        cursor.execute(f"DROP INDEX {name}")  # as regclass prints it: quoted if need be
    yield
    for name, definition in constraints:
        cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {q(name)} {definition}")
    for _, definition in indexes:
        cursor.execute(definition)
    cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def _rekey_in_batches(model, dims: dict[str, models.Field], key: Callable, connection) -> None:
    """Read a batch of rows' ids and dimensions in id order, write their keys, go on."""
    q = connection.ops.quote_name
    table, names = q(model._meta.db_table), list(dims)
    flags = [isinstance(field, models.BooleanField) for field in dims.values()]
    key_field = model._meta.get_field("row_key")
    select = (
        f"SELECT id, {', '.join(q(f.column) for f in dims.values())} FROM {table} "
        f"WHERE id > %s ORDER BY id LIMIT {BATCH}"
    )
    update = f"UPDATE {table} SET {q('rowKey')} = %s WHERE id = %s"
    last = 0
    with connection.cursor() as cursor:
        while True:
            cursor.execute(select, [last])
            batch = cursor.fetchall()
            if not batch:
                return
            keys = []
            for row_id, *stored in batch:
                values = (
                    bool(v) if f and v is not None else v
                    for v, f in zip(stored, flags, strict=True)
                )
                value = key(dict(zip(names, values, strict=True)))
                keys.append((key_field.get_db_prep_value(value, connection), row_id))
            cursor.executemany(update, keys)
            last = batch[-1][0]


def forward(apps, schema_editor) -> None:
    rekey(apps, schema_editor, row_key, row_key_sql)


def backward(apps, schema_editor) -> None:
    rekey(apps, schema_editor, old_row_key, old_row_key_sql)


class Migration(migrations.Migration):
    dependencies = [("connectors", "0011_coverage")]

    operations = [migrations.RunPython(forward, backward)]
