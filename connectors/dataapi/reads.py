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

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, QuerySet

from connectors.dataapi.tables import Table, name_column
from connectors.explore.names import NAMED, missing_states, names_of
from connectors.models import Connector, Task

DEFAULT_PAGE_SIZE = 1_000
MAX_PAGE_SIZE = 10_000


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
    try:
        found = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        after, page = found["after"], found["page"]
    except (ValueError, TypeError, KeyError, json.JSONDecodeError):
        return None
    if type(after) is not int or type(page) is not int or page < 1:
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
    stored = [c for c in table.columns if c.field]
    fields = [c.field for c in stored]
    rows = selected(request)
    if request.after is None:
        start = (request.page - 1) * request.page_size
        rows = rows[start : start + request.page_size + 1]
    else:
        rows = rows[: request.page_size + 1]
    with transaction.atomic():
        _statement_timeout()
        found = list(rows.values_list(*fields))
        more = len(found) > request.page_size
        found = found[: request.page_size]
        named = _names(table, fields, found)
    key_at = fields.index(table.pk)
    values = []
    for row in found:
        by_field = dict(zip(fields, row, strict=True))
        values.append([_value(column, by_field, named) for column in table.columns])
    last = found[-1][key_at] if found else None
    return Page([c.name for c in table.columns], values, more, last)


def _statement_timeout() -> None:
    seconds = float(getattr(settings, "DATA_API_STATEMENT_TIMEOUT_SECONDS", 30))
    if connection.vendor == "postgresql" and seconds > 0:
        with connection.cursor() as cursor:
            limit = f"{max(1, round(seconds * 1000))}ms"  # 0 would mean no limit at all
            cursor.execute("SELECT set_config('statement_timeout', %s, true)", [limit])


def _value(column, by_field: dict, named: dict) -> Any:
    if column.field:
        return by_field[column.field]
    if column.name == "connectorName":
        return named["connectors"].get(by_field["connector_id"])
    if column.name == "taskName":
        return named["tasks"].get(by_field["task_id"])
    source = column.name[:-4] + "Id"  # projectName → projectId
    value = by_field.get(source)  # a usage dimension's field is named as its column
    if not value:
        return None
    return named[source].get((by_field["connector_id"], value))


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
