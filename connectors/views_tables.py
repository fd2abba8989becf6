"""The collected tables: the list per connector, a table's rows, and its CSV export."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from connectors import datatables, export, selectors, table_rows
from connectors.access import connector_for
from connectors.names import names
from connectors.openai.streams import UsageStream
from connectors.table_rows import plain


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
            names(connector, page.rows),
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
        export.csv_lines(connector, query, rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{stream.table}.csv"'
    return response
