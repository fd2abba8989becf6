"""Reading one page of a table for the Data API: the key's connectors, the filter, the
page (by number or by cursor) in primary-key order, and the names of each row.

A page by number is an OFFSET; a page by cursor starts right after the last row's key,
so the last page of ten million rows costs what the first does. Every query runs under
a statement timeout (Postgres), so one request cannot hold the database.
"""

from __future__ import annotations

import base64
import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import orjson
from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from psycopg.pq import Format

from connectors.dataapi.tables import Table
from connectors.explore.names import NAMED, missing_states, name_column, names_of
from connectors.models import Connector, Task

TIMESTAMPTZ_OID = 1184
DEFAULT_PAGE_SIZE = 1_000
MAX_PAGE_SIZE = 10_000
MAX_PAGE = 1_000_000_000  # page x page_size stays a number Postgres can OFFSET by
MAX_CURSOR_LENGTH = 200  # characters: this API writes fewer than 60
BIGINT = 2**63


@dataclass
class Request:
    """What a request asks of a table, parsed and checked."""

    table: Table
    where: Q  # the filter
    connectors: set[int] | None  # the key's connectors (None: all)
    connector: int | None = None  # the `connector` parameter
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE
    after: Any = None  # the cursor's last key


@dataclass
class Page:
    columns: list[str]
    rows: list[list]  # values in `columns` order, as the database gave them
    more: bool
    last_key: Any


def encode_cursor(after: Any, page: int) -> str:
    raw = json.dumps({"after": after, "page": page}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> tuple[int, int] | None:
    """(last key, page number) or None for a cursor this API did not write."""
    if len(text) > MAX_CURSOR_LENGTH:
        return None
    try:
        found = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        after, page = found["after"], found["page"]
    except (ValueError, TypeError, KeyError, RecursionError):
        return None
    if type(after) is not int or type(page) is not int:
        return None
    if not 1 <= page <= MAX_PAGE or not -BIGINT <= after < BIGINT:
        return None
    return after, page


def selected(request: Request) -> QuerySet:
    """The rows the key, the connector and the filter select, in key order."""
    table = request.table
    rows = table.rows()
    if request.connectors is not None:
        rows = rows.filter(connector_id__in=sorted(request.connectors))
    if request.connector is not None:
        rows = rows.filter(connector_id=request.connector)
    rows = rows.filter(request.where)
    if request.after is not None:
        rows = rows.filter(**{f"{table.pk}__gt": request.after})
    return rows.order_by(table.pk)


def read(request: Request) -> Page:
    """One page, its names filled in, under the statement timeout."""
    table = request.table
    fields = [c.field for c in table.columns if c.field]
    rows = selected(request)
    if request.after is None:
        start = (request.page - 1) * request.page_size
        rows = rows[start : start + request.page_size + 1]
    else:
        rows = rows[: request.page_size + 1]
    with transaction.atomic():
        _statement_timeout()
        found = _fetch(rows.values_list(*fields), table)
        more = len(found) > request.page_size
        found = found[: request.page_size]
        named = _names(table, fields, found)
    last = found[-1][fields.index(table.pk)] if found else None
    values = _assembled(table, fields, found, named)
    return Page([c.name for c in table.columns], values, more, last)


def _fetch(query: QuerySet, table: Table) -> list[tuple]:
    """The rows of `query` as tuples. On Postgres, read on the driver's cursor with
    each distinct time parsed once (a page of 10,000 rows holds a few dozen: parsing
    every one took a third of a page's time) and JSON parsed by orjson."""
    if connection.vendor != "postgresql":
        return list(query)
    try:
        sql, params = query.query.sql_with_params()
    except EmptyResultSet:  # a key limited to connectors that are all deleted
        return []
    with connection.cursor() as cursor:
        raw = cursor.cursor
        raw.adapters.register_loader("timestamptz", _once_each(raw))
        cursor.execute(sql, params)
        found = cursor.fetchall()
    stored = [c for c in table.columns if c.field]
    json_at = [i for i, c in enumerate(stored) if c.type == "json"]
    if not json_at:
        return found
    rows = []
    for row in found:
        row = list(row)
        for i in json_at:
            if row[i] is not None:
                row[i] = orjson.loads(row[i])
        rows.append(tuple(row))
    return rows


def _once_each(raw_cursor):
    """The cursor's own timestamptz loader, remembering what each text it parsed gave."""
    base = type(raw_cursor.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)(TIMESTAMPTZ_OID))

    class OnceEach(base):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.seen: dict[bytes, Any] = {}

        def load(self, data):
            key = bytes(data)
            found = self.seen.get(key)
            if found is None:
                found = self.seen[key] = super().load(data)
            return found

    return OnceEach


def _assembled(table: Table, fields: list[str], rows: list[tuple], named: dict) -> list[list]:
    """Each row's values in the table's column order: the stored ones as read, the
    names (derived columns) inserted at their places."""
    at = {f: i for i, f in enumerate(fields)}
    connector_at = at["connector_id"]
    derived = []
    for position, column in enumerate(table.columns):
        if column.field:
            continue
        if column.name == "connectorName":
            derived.append((position, named["connectors"].get, connector_at, None))
        elif column.name == "taskName":
            derived.append((position, named["tasks"].get, at["task_id"], None))
        else:  # projectName → projectId: a usage dimension's field is named as its column
            source = column.name[:-4] + "Id"
            derived.append((position, named[source].get, connector_at, at[source]))
    values = []
    for row in rows:
        out = list(row)
        for position, get, first, second in derived:
            if second is None:
                out.insert(position, get(row[first]))
            else:
                value = row[second]
                out.insert(position, get((row[first], value)) if value else None)
        values.append(out)
    return values


def _statement_timeout() -> None:
    seconds = float(getattr(settings, "DATA_API_STATEMENT_TIMEOUT_SECONDS", 30))
    if connection.vendor == "postgresql" and seconds > 0:
        with connection.cursor() as cursor:
            limit = f"{max(1, round(seconds * 1000))}ms"  # 0 would mean no limit at all
            cursor.execute("SELECT set_config('statement_timeout', %s, true)", [limit])


def _names(table: Table, fields: list[str], rows: list[tuple]) -> dict[str, dict]:
    """The connectors', tasks' and directory's names of a page's rows: one query each
    for connectors and tasks, one per connector for the directory."""
    at = {f: i for i, f in enumerate(fields)}
    connector_ids = {row[at["connector_id"]] for row in rows}
    connectors = Connector.objects.in_bulk(connector_ids)
    found: dict[str, dict] = {"connectors": {pk: c.name for pk, c in connectors.items()}}
    if table.has_task:
        task_ids = {row[at["task_id"]] for row in rows}
        tasks = Task.objects.filter(pk__in=task_ids)
        found["tasks"] = {t.pk: t.display_name for t in tasks}
    named = [c for c in NAMED if c in at and table.column(name_column(c))]
    for column in named:
        found[column] = {}
    wanted: dict[int, dict[str, set]] = defaultdict(lambda: {c: set() for c in named})
    for row in rows:
        for column in named:
            if row[at[column]]:
                wanted[row[at["connector_id"]]][column].add(row[at[column]])
    for connector_id, ids in wanted.items():
        connector = connectors[connector_id]
        missing = missing_states(connector)
        labels = names_of(connector, ids)
        for column in named:
            for openai_id in ids[column]:
                name = labels[column].get(openai_id)
                label = name.label if name else _unlisted(openai_id, missing.get(column, ""))
                found[column][(connector_id, openai_id)] = label
    return found


def _unlisted(openai_id: str, state: str) -> str | None:
    """An id the directory does not list: named by itself with its state where its
    column has one (a deleted key), as Export CSV names it; else no name."""
    return f"{openai_id} ({state})" if state else None
