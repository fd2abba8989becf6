"""A page as the Data API writes it: the JSON envelope, or CSV; errors in JSON.

Values, alike in both: times ISO 8601 in UTC, decimals exact (JSON: as strings, so no
client rounds them through a float), booleans true/false, JSON columns as JSON; in CSV
an empty field for no value and lines ending in \\n, and a text cell that would begin a
spreadsheet formula written with a quote first, as Export CSV writes it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
from django.http import HttpResponse

from connectors.explore.export import csv_text, inert
from connectors.explore.table_rows import plain


def error(status: int, message: str, **headers: str) -> HttpResponse:
    message = message.encode("utf-8", "backslashreplace").decode("utf-8")  # \ud800 shown so
    body = orjson.dumps({"error": message, "status": status})
    response = HttpResponse(body, status=status, content_type="application/json")
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return plain(value)
    raise TypeError(f"{type(value).__name__} is not serialisable")


def as_json(columns: list[str], rows: list[list], page: int, size: int, next_url: str | None):
    data = [dict(zip(columns, row, strict=True)) for row in rows]
    envelope = {"data": data, "page": page, "page_size": size, "next": next_url}
    body = orjson.dumps(envelope, default=_json_default)
    return HttpResponse(body, content_type="application/json")


def _time_writer():
    """ISO 8601 in UTC, each distinct time written once (a page's rows share a few)."""
    seen: dict[datetime, str] = {}

    def write(value: datetime | None) -> str:
        if value is None:
            return ""
        found = seen.get(value)
        if found is None:
            found = seen[value] = value.astimezone(UTC).isoformat()
        return found

    return write


def _json_cell(value: Any) -> str:
    return "" if value is None else json.dumps(value, separators=(",", ":"), sort_keys=True)


def _bool_cell(value: bool | None) -> str:
    return "" if value is None else ("true" if value else "false")


def _writers(types: list[str]) -> list[tuple[int, Any]]:
    """(position, how to write it) of the columns the csv module would write unlike
    JSON; integers it writes as they are, None as an empty field."""
    found = []
    for i, kind in enumerate(types):
        if kind == "time":
            found.append((i, _time_writer()))
        elif kind in ("decimal", "float"):
            found.append((i, plain))
        elif kind == "bool":
            found.append((i, _bool_cell))
        elif kind == "json":
            found.append((i, _json_cell))
        elif kind == "str":
            found.append((i, inert))
    return found


def as_csv(
    columns: list[str], types: list[str], rows: list[list], next_url: str | None
) -> HttpResponse:
    """The header and the rows, written as Export CSV writes them: a text cell that a
    spreadsheet would run as a formula is written with a quote first (`export.inert`)."""
    writers = _writers(types)
    for row in rows:  # the page's own lists: written over in place
        for i, write in writers:
            row[i] = write(row[i])
    body = csv_text([columns, *rows])
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    if next_url:
        response["Link"] = f'<{next_url}>; rel="next"'
    return response
