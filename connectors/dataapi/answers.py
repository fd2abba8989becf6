"""A page as the Data API writes it: the JSON envelope, or CSV; errors in JSON.

Values, alike in both: times ISO 8601 in UTC, decimals exact (JSON: as strings, so no
client rounds them through a float), booleans true/false, JSON columns as JSON; in CSV
an empty field for no value and lines ending in \\n.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
from django.http import HttpResponse

from connectors.explore.table_rows import plain


def error(status: int, message: str, **headers: str) -> HttpResponse:
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


def _cell(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    return plain(value)


class _Echo:
    def write(self, text: str) -> str:
        return text


def as_csv(columns: list[str], rows: list[list], next_url: str | None) -> HttpResponse:
    """The header and the rows. The csv module quotes a field holding a lone CR only
    when CR is in its line end: lines are written with "\r\n", then end in "\n"."""
    writer = csv.writer(_Echo(), lineterminator="\r\n")
    lines = [writer.writerow(columns)[:-2]]
    lines += [writer.writerow([_cell(v) for v in row])[:-2] for row in rows]
    body = "\n".join(lines) + "\n"
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    if next_url:
        response["Link"] = f'<{next_url}>; rel="next"'
    return response
