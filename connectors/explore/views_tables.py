"""The collected tables: the list per connector, a table's rows, and its CSV export."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from connectors.access import connector_for
from connectors.explore import (
    charts,
    datatables,
    directory,
    export,
    focus,
    names,
    planner,
    table_rows,
    views_directory,
)
from connectors.explore.names import NAMED, directory_choices, missing_states, resolve
from connectors.explore.views_directory import query_link
from connectors.openai.streams import DIMENSIONS, UsageStream
from connectors.setup import selectors


def table_list(request: HttpRequest, pk: int) -> HttpResponse:
    connector = connector_for(request, pk)
    tasks = list(connector.tasks.all())
    streams = datatables.usage_streams()
    found = planner.every_dataset(connector, streams)  # what every task collected: one query
    tables = [selectors.table_summary(connector, s, tasks, found.get(s.type, [])) for s in streams]
    found_directory = [
        {"table": t, **directory.counts(connector, t)} for t in directory.DIRECTORY_TABLES
    ]
    context = {"connector": connector, "tables": tables, "directory": found_directory}
    return render(request, "connectors/table_list.html", context)


def stream_or_404(table: str) -> UsageStream:
    stream = datatables.stream_for_table(table)
    if stream is None:
        raise Http404("No such table.")
    return stream


def table_query(request: HttpRequest, connector, stream: UsageStream) -> datatables.TableQuery:
    """The URL's query, a project, user or API key given by name turned into its id."""
    query = datatables.parse_query(stream, request.GET, timezone.now().date())
    return named(connector, query)


def export_query(
    request: HttpRequest, connector, stream: UsageStream
) -> datatables.TableQuery | HttpResponse:
    """An export's query, or the 400 page refusing a value the URL holds that the page
    could not use. A name that matches nothing or several entries is no bad value: the
    export then holds what the page shows (no rows, or the entry it picked)."""
    query = datatables.parse_query(stream, request.GET, timezone.now().date())
    if query.problems:
        return views_directory.export_refused(request, connector, stream.table, query.problems)
    return named(connector, query)


def named(connector, query: datatables.TableQuery) -> datatables.TableQuery:
    """The query with its project, user or API key filters given by name as ids."""
    for column, value in list(query.dims.items()):
        if column in NAMED:
            query.dims[column], problem = resolve(connector, column, value)
            if problem:
                query.problems.append(problem)
                query.unknown = query.unknown or problem.startswith("No ")
    return query


def table_detail(request: HttpRequest, pk: int, table: str) -> HttpResponse:
    connector = connector_for(request, pk)
    if table in directory.DIRECTORY_TABLES:
        return views_directory.directory_detail(request, connector, table)
    stream = stream_or_404(table)
    query = table_query(request, connector, stream)
    rows = datatables.filtered(connector, query)
    page = datatables.page(connector, rows, query)
    totals = datatables.totals(connector, query)
    answer = datatables.answer(connector, query)
    columns = _columns(stream)
    tasks = {t.pk: t for t in connector.tasks.all()}
    # one read of the directory for the page's names and the filters' type-ahead lists
    known = names.directory(connector, [f.column for f in stream.dimensions])
    _sort_links(columns, query, request.GET)
    context = {
        "connector": connector,
        "stream": stream,
        "query": query,
        "page": page,
        "rows": table_rows.body(
            stream,
            columns,
            page.rows,
            known,
            missing_states(connector),
            {pk: t.display_name for pk, t in tasks.items()},
        ),
        "answer": answer,
        "utc_days": any(table_rows.utc_day(row) for row in page.rows),
        "coverage": coverage_words(answer),
        "totals": totals,
        "metric_totals": table_rows.total_cells(stream, totals),
        "columns": columns,
        "presets": datatables.PRESETS,
        "filters": _filters(
            stream, request.GET, directory_choices(known) | _seen_choices(connector, stream)
        ),
        "tasks": tasks.values(),
        "params": request.GET,
        "next_link": page.next_cursor
        and query_link(request.GET, after=page.next_cursor, before=None),
        "previous_link": page.previous_cursor
        and query_link(request.GET, before=page.previous_cursor, after=None),
    }
    if not request.htmx:  # the whole page: its charts come in this response, not a second one
        context["page_charts"] = charts.page_charts(
            connector, stream, query, request.GET.get("split", "")
        )
    template = "connectors/table_detail.html"
    if request.htmx and request.htmx.target == "table-data":
        template += "#table-data"
    return render(request, template, context)


def _sort_links(columns: list[dict], query: datatables.TableQuery, params: QueryDict) -> None:
    """Each sortable header's link (sorts by it, a second click the other way), arrow
    and aria-sort."""
    for column in columns:
        if column["kind"] == "task":
            continue
        name, sorted_here = column["column"], query.sort_column == column["column"]
        sort = f"-{name}" if sorted_here and not query.descending else name
        column["href"] = query_link(params, sort=sort, after=None, before=None)
        column["arrow"] = ("↓" if query.descending else "↑") if sorted_here else ""
        order = "descending" if query.descending else "ascending"
        column["aria"] = order if sorted_here else "none"


def _seen_choices(connector, stream: UsageStream) -> dict[str, list[tuple[str, str]]]:
    """The type-ahead lists of the filters whose values the directory does not hold: the
    choices of the task's own (SIZE, SOURCE, CONTEXT LEVEL), and the line items the
    costs rows hold (LINE ITEM)."""
    found = {
        DIMENSIONS[p.narrows].column: [(choice, choice) for choice in p.choices]
        for p in stream.filters
        if p.kind == "enum"
    }
    if "lineItem" in {f.column for f in stream.dimensions}:
        found["lineItem"] = [(item, item) for item in names.line_items_seen(connector)]
    return found


def _filters(stream: UsageStream, params: QueryDict, choices: dict) -> list[dict]:
    """The filter inputs of the table's dimensions, in their order: text inputs with
    their current values (a project, user or key with a type-ahead list of the
    directory's names, a line item with those collected), and the batch choice. Each
    is the registry's `Field.filter`, labelled with its label in capitals."""
    found = []
    for f in stream.dimensions:
        if not f.filter:
            continue
        if f.type == "bool":
            found.append({"name": f.filter})
            continue
        found.append(
            {
                "name": f.filter,
                "label": f.label.upper(),
                "placeholder": f.placeholder,
                "value": params.get(f.filter, ""),
                "choices": choices.get(f.column),
            }
        )
    return found


def _columns(stream: UsageStream) -> list[dict]:
    """The product's columns, bucket first; dimensions that have names get them."""
    columns = [
        {"column": "startTime", "kind": "time"},
        {"column": "endTime", "kind": "time"},
        {"column": "taskId", "kind": "task"},
    ]
    columns += [
        {"column": f.column, "kind": "name" if f.column in NAMED else "dim"}
        for f in stream.dimensions
    ]
    columns += [
        {"column": f.column, "kind": "metric", "type": f.type, "unit": f.unit}
        for f in stream.metrics
    ]
    return columns


def coverage_words(answer: planner.Answer) -> dict[str, str]:
    """What the page's figures cover, in words: the days no task answers, the days
    answered in part."""
    return {
        "missing": planner.day_ranges(answer.missing),
        "partial": planner.partial_words(answer),
    }


def table_export(request: HttpRequest, pk: int, table: str) -> HttpResponse:
    """The filtered table as CSV. A filter that cannot be used refuses the export with a
    400 page (the page itself shows the rows without it, and says so): a file must be
    what its filters say. Everything is read and planned before the first byte, so a
    200 once started is finished."""
    connector = connector_for(request, pk)
    if table in directory.DIRECTORY_TABLES:
        return views_directory.directory_export(request, connector, table)
    stream = stream_or_404(table)
    query = export_query(request, connector, stream)
    if isinstance(query, HttpResponse):
        return query
    rows = datatables.filtered(connector, query)
    response = StreamingHttpResponse(
        export.csv_lines(connector, query, rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{stream.table}.csv"'
    return response


def table_focus_export(request: HttpRequest, pk: int, table: str) -> HttpResponse:
    """The costs table as FOCUS 1.2 (`focus`), with the page's filters and range; a
    400 page in words for a filter it cannot use, as Export CSV answers."""
    connector = connector_for(request, pk)
    stream = stream_or_404(table)
    if stream.type != "costs":
        raise Http404("Only the costs table has a FOCUS export.")
    query = export_query(request, connector, stream)
    if isinstance(query, HttpResponse):
        return query
    response = StreamingHttpResponse(
        focus.csv_lines(connector, query), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{stream.table}-focus.csv"'
    return response
