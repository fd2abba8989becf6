"""The collected tables: the list per connector, a table's rows, and its CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime

from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from connectors import datatables, selectors, table_rows
from connectors.access import connector_for
from connectors.openai.streams import UsageStream
from connectors.table_rows import plain

EXPORT_CHUNK = 2000


def table_list(request: HttpRequest, pk: int) -> HttpResponse:
    connector = connector_for(request, pk)
    tasks = list(connector.tasks.all())
    tables = [selectors.table_summary(connector, s, tasks) for s in datatables.usage_streams()]
    context = {"connector": connector, "tables": tables}
    return render(request, "connectors/table_list.html", context)


def stream_or_404(table: str) -> UsageStream:
    stream = datatables.stream_for_table(table)
    if stream is None:
        raise Http404("No such table.")
    return stream


def table_detail(request: HttpRequest, pk: int, table: str) -> HttpResponse:
    connector = connector_for(request, pk)
    stream = stream_or_404(table)
    query = datatables.parse_query(stream, request.GET, timezone.now().date())
    rows = datatables.filtered(connector, query)
    page = datatables.page(connector, rows, query)
    totals = datatables.totals(connector, query)
    columns = _columns(stream)
    for column in columns:  # a header link sorts by it, the second click the other way
        current = query.sort_column == column["column"] and not query.descending
        column["sort_link"] = f"-{column['column']}" if current else column["column"]
    context = {
        "connector": connector,
        "stream": stream,
        "query": query,
        "page": page,
        "rows": table_rows.body(
            stream,
            columns,
            page.rows,
            datatables.names(connector, page.rows),
            keys_listed=connector.directory_refreshed_at is not None,
        ),
        "totals": totals,
        "metric_totals": [plain(totals.get(f.column)) for f in stream.metrics],
        "columns": columns,
        "presets": datatables.PRESETS,
        "tasks": connector.tasks.all(),
        "params": request.GET,
    }
    template = "connectors/table_detail.html"
    if request.htmx and request.htmx.target == "table-data":
        template += "#table-data"
    return render(request, template, context)


def _columns(stream: UsageStream) -> list[dict]:
    """The product's columns, bucket first; dimensions that have names get them."""
    named = {"projectId", "userId", "apiKeyId"}
    columns = [{"column": "startTime", "kind": "time"}, {"column": "endTime", "kind": "time"}]
    columns += [
        {"column": f.column, "kind": "name" if f.column in named else "dim"}
        for f in stream.dimensions
    ]
    columns += [{"column": f.column, "kind": "metric", "type": f.type} for f in stream.metrics]
    return columns


def table_export(request: HttpRequest, pk: int, table: str) -> StreamingHttpResponse:
    connector = connector_for(request, pk)
    stream = stream_or_404(table)
    query = datatables.parse_query(stream, request.GET, timezone.now().date())
    rows = datatables.filtered(connector, query)
    response = StreamingHttpResponse(
        _csv_lines(connector, stream, query, rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{stream.table}.csv"'
    return response


def _csv_lines(connector, stream: UsageStream, query, rows) -> Iterator[str]:
    """The filtered table in the page's order, then its totals: constant memory. Rows
    are read as tuples of the exported columns only, a chunk at a time, and each chunk
    goes out as one piece of text."""
    dims = [f.column for f in stream.dimensions]
    metrics = [f.column for f in stream.metrics]
    named = [c for c in ("projectId", "userId", "apiKeyId") if c in dims]
    header = ["startTime", "endTime", "bucketWidth", *dims, *[c[:-2] + "Name" for c in named]]
    yield _csv([[*header, *metrics, "object", "provisional"]])
    fields = [datatables._field_name(rows.model, c) for c in (*dims, *metrics)]
    field = datatables._field_name(rows.model, query.sort_column)
    order = [f"-{field}", "-id"] if query.descending else [field, "id"]
    columns = ["start_time", "end_time", "bucket_width", *fields, "object", "provisional"]
    shown, labels = _shown(stream), _Labels(connector, dims, named)
    chunk: list[tuple] = []
    for row in rows.order_by(*order).values_list(*columns).iterator(chunk_size=EXPORT_CHUNK):
        chunk.append(row)
        if len(chunk) == EXPORT_CHUNK:
            yield _csv_chunk(chunk, dims, labels, shown)
            chunk = []
    if chunk:
        yield _csv_chunk(chunk, dims, labels, shown)
    sums = datatables.totals(connector, query)
    blanks = [""] * (len(header) - 1)
    yield _csv([["totals", *blanks, *[plain(sums.get(c)) for c in metrics], "", ""]])


def _shown(stream: UsageStream) -> list[tuple[int, object]]:
    """(position in a row tuple, how to write it) for the values the csv module would
    write differently from the table: decimals without exponent, booleans as JSON has
    them. Text and integers it writes as they are (None as an empty field)."""
    fields = [*stream.dimensions, *stream.metrics]
    shown = [(3 + i, plain) for i, f in enumerate(fields) if f.type in ("decimal", "float", "bool")]
    provisional = 3 + len(fields) + 1  # after the values and `object`
    return [*shown, (provisional, plain)]


def _csv_chunk(chunk: list[tuple], dims: list[str], labels: _Labels, shown) -> str:
    """A chunk of row tuples (times, width, dimensions, metrics, object, provisional) as
    CSV lines, with the directory's names after the dimensions."""
    labels.learn(chunk)
    split = 3 + len(dims)
    times: dict[datetime, str] = {}  # a bucket's rows share their start and end
    lines = []
    for row in chunk:
        values = list(row)
        for position, write in shown:
            values[position] = write(values[position])
        start, end = (times.get(t) or times.setdefault(t, _iso(t)) for t in row[:2])
        lines.append([start, end, *values[2:split], *labels.of(row), *values[split:]])
    return _csv(lines)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


class _Labels:
    """Directory names of the exported rows' ids, read once per id for the whole export."""

    def __init__(self, connector, dims: list[str], named: list[str]) -> None:
        self.connector = connector
        self.at = {c: 3 + dims.index(c) for c in named}
        self.known: dict[str, dict[str, str]] = {c: {} for c in named}

    def learn(self, chunk: list[tuple]) -> None:
        new = {c: {r[i] for r in chunk if r[i]} - self.known[c].keys() for c, i in self.at.items()}
        if any(new.values()):
            found = datatables.names_of(self.connector, new)
            for column, ids in new.items():
                self.known[column] |= {pk: _label(found[column].get(pk)) for pk in ids}

    def of(self, row: tuple) -> list[str]:
        return [self.known[c].get(row[i], "") for c, i in self.at.items()]


def _csv(lines: list[list]) -> str:
    text = io.StringIO()
    csv.writer(text).writerows(lines)
    return text.getvalue()


def _label(name) -> str:
    return "" if name is None else name.label
