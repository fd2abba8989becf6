"""Writing one page of buckets: a fixed number of statements, whatever the page's size.

On Postgres, the page's rows that the table does not hold yet (all of them on a first
load) go in with one binary COPY, the fastest way into a table; rows it already holds
(a re-read window, a repeated run) are copied to a scratch table and one UPDATE writes
them in place, telling changed from unchanged. Which is which comes from one index range
read of the page's keys. Should another writer add some of the same rows in between, the COPY fails
on the natural key and the whole page goes through the upsert instead: never a duplicate.
Other databases take the upsert for every page.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import cache

from django.db import DataError, IntegrityError, connection, models, transaction
from psycopg import sql
from psycopg.copy import Copy
from psycopg.types.json import Jsonb

from connectors.openai.pages import ContractError
from connectors.openai.persistence import KEY_COLUMNS, Counts, Rows, check_int_ranges
from connectors.openai.upsert import upsert

_STAMPS = ("firstFetchedAt", "lastFetchedAt", "lastChangedAt")
_SAVEPOINT = "page_rows"


def write_rows(model: type[models.Model], rows: Rows, fetched_at: datetime, path: str) -> Counts:
    """Write one page's rows (built by persistence.usage_rows from the answer to `path`),
    stamped as fetched at `fetched_at`."""
    if not rows:
        return Counts()
    try:
        if connection.vendor != "postgresql":
            check_int_ranges(rows)  # SQLite would keep a larger one as a float
            return upsert(model, rows, fetched_at)
        with _named_overflow(rows):
            return _copy_or_upsert(model, rows, fetched_at)
    except DataError as error:  # persistence refuses what it knows no column holds
        check_int_ranges(rows)
        reason = str(error).splitlines()[0]
        raise ContractError(f"{path} returned a value the table cannot hold: {reason}.") from None


@contextmanager
def _named_overflow(rows: Rows) -> Iterator[None]:
    """Binary COPY refuses an integer beyond bigint as it encodes it (OverflowError):
    then it is a ContractError naming the field and the value."""
    try:
        yield
    except OverflowError:
        check_int_ranges(rows)
        raise


def _copy_or_upsert(model: type[models.Model], rows: Rows, fetched_at: datetime) -> Counts:
    if not connection.in_atomic_block:  # the savepoint below needs a transaction
        with transaction.atomic():
            return _copy_or_upsert(model, rows, fetched_at)
    held = _held_keys(model, rows)
    at_start, at_key = rows.columns.index("startTime"), rows.columns.index("rowKey")
    known, new = rows.split(lambda row: (row[at_start], row[at_key]) in held)
    if new:
        try:
            _copy(model, new, fetched_at)
        except IntegrityError:  # another writer got there first: upsert them all
            with connection.cursor() as cursor:
                cursor.execute(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
            check_int_ranges(rows)  # the held ones were never encoded for COPY
            return upsert(model, rows, fetched_at)
    counts = _update(model, known, fetched_at)
    counts.inserted += len(new)
    return counts


def _held_keys(model: type[models.Model], rows: Rows) -> set[tuple]:
    """The (startTime, rowKey) pairs the table already holds in the page's time span.
    Sent with it, in the same round trip, a savepoint that the page's COPY can be rolled
    back to, should it fail on a key another writer added since (it is released with the
    transaction)."""
    starts = rows.column("startTime")
    first = rows.values[0]
    task, width = (first[rows.columns.index(c)] for c in ("taskId", "bucketWidth"))
    q = connection.ops.quote_name
    with connection.cursor() as cursor:  # client-side binding: several statements at once
        cursor.execute(
            f"SAVEPOINT {_SAVEPOINT}; "
            f"SELECT {q('startTime')}, {q('rowKey')} FROM {q(model._meta.db_table)} "
            f"WHERE {q('taskId')} = %s AND {q('bucketWidth')} = %s "
            f"AND {q('startTime')} BETWEEN %s AND %s",
            [task, width, min(starts), max(starts)],
        )
        cursor.nextset()
        return set(cursor.fetchall())


def _update(model: type[models.Model], rows: Rows, fetched_at: datetime) -> Counts:
    """Rows the table holds: copied to a scratch table of this session, then one UPDATE
    writes them in place; lastChangedAt moves only for a row whose values changed."""
    if not rows:
        return Counts()
    table = model._meta.db_table
    scratch = f"{table}_page"
    q = connection.ops.quote_name
    owners = ("taskId", "connectorId")
    columns = [c for c in rows.columns if c not in KEY_COLUMNS and c not in owners]
    changed = " OR ".join(f"t.{q(c)} IS DISTINCT FROM s.{q(c)}" for c in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {q(scratch)} AS SELECT * FROM {q(table)} WITH NO DATA"
        )
        _copy(model, rows, fetched_at, into=scratch)
        cursor.execute(
            f"UPDATE {q(table)} AS t SET "
            + ", ".join(f"{q(c)} = s.{q(c)}" for c in columns)
            + f", {q('lastFetchedAt')} = s.{q('lastFetchedAt')}, {q('lastChangedAt')} = "
            f"CASE WHEN {changed} THEN s.{q('lastChangedAt')} ELSE t.{q('lastChangedAt')} END "
            f"FROM {q(scratch)} AS s WHERE "
            + " AND ".join(f"t.{q(c)} = s.{q(c)}" for c in KEY_COLUMNS)
            + f" RETURNING t.{q('lastChangedAt')} = s.{q('lastChangedAt')}"
        )
        returned = [changed for (changed,) in cursor.fetchall()]
        cursor.execute(f"TRUNCATE {q(scratch)}")
    updated = sum(returned)
    return Counts(updated=updated, unchanged=len(returned) - updated)


def _copy(model: type[models.Model], rows: Rows, fetched_at: datetime, into: str = "") -> None:
    """One binary COPY of the rows into the model's table (or a table like it), stamped
    as fetched at `fetched_at`."""
    columns = [*rows.columns, *_STAMPS]
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
        sql.Identifier(into or model._meta.db_table),
        sql.SQL(", ").join(map(sql.Identifier, columns)),
    )
    began = time.monotonic()
    # Django's own error classes (IntegrityError, DataError), as for any other statement.
    with (
        connection.wrap_database_errors,
        connection.cursor() as cursor,
        cursor.cursor.copy(statement) as copy,
    ):
        _write_stamped(copy, model, rows, fetched_at)
    _log(statement.as_string(connection.connection), began)


def _write_stamped(copy: Copy, model: type[models.Model], rows: Rows, fetched_at: datetime) -> None:
    types = column_types(model)
    copy.set_types([types[c] for c in (*rows.columns, *_STAMPS)])
    for row in _stamped(rows, fetched_at):
        copy.write_row(row)


def _stamped(rows: Rows, fetched_at: datetime) -> Iterator[tuple]:
    """The rows as COPY takes them: JSON as Jsonb, the fetch stamps appended."""
    stamps = (fetched_at,) * len(_STAMPS)
    at_extra = rows.columns.index("extra")
    for row in rows.values:
        if row[at_extra] is not None:
            row = (*row[:at_extra], Jsonb(row[at_extra]), *row[at_extra + 1 :])
        yield (*row, *stamps)


@cache
def column_types(model: type[models.Model]) -> dict[str, str]:
    """Column -> Postgres type name ("numeric(38, 18)" -> "numeric"), for binary COPY."""
    return {f.column: f.db_type(connection).split("(")[0] for f in model._meta.concrete_fields}


def _log(statement: str, began: float) -> None:
    """COPY bypasses Django's cursor wrapper: count it with the queries all the same, so
    that the debug log and query-count checks see every statement a page takes."""
    if connection.queries_logged:
        connection.queries_log.append({"sql": statement, "time": f"{time.monotonic() - began:.3f}"})
