"""The directory tables' pages and CSV: projects, users, apiKeys, serviceAccounts."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, QueryDict, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from connectors.explore import directory
from connectors.explore.export import csv_text
from connectors.explore.params import bad_request, refused
from connectors.models import Connector, ProjectEntry

ARIA = {True: "descending", False: "ascending"}


def query_link(params: QueryDict, **changes: str | None) -> str:
    """The page's own query string with `changes` (None removes a parameter), as
    `{% querystring %}` writes it; made here, once per link, for a header's many columns.
    The usage tables' pages use it too."""
    query = params.copy()
    for key, value in changes.items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = value
    return f"?{query.urlencode()}"


def directory_detail(request: HttpRequest, connector: Connector, table: str) -> HttpResponse:
    query = directory.parse_query(table, request.GET)
    rows = directory.filtered(connector, query)
    total = rows.count()
    pages = _last_page(query, total)
    start = (query.page - 1) * directory.PAGE_SIZE
    found = list(rows[start : start + directory.PAGE_SIZE])
    columns = directory.columns(table)
    context = {
        "connector": connector,
        "table": table,
        "query": query,
        "headers": _headers(request.GET, query, columns),
        "rows": _body(connector, columns, found),
        "total": total,
        "states": directory.STATES,
        "removed_word": "deleted" if table == "apiKeys" else "removed",
        "page_number": query.page,
        "pages": pages,
        "next_link": query.page < pages and query_link(request.GET, page=str(query.page + 1)),
        "previous_link": query.page > 1 and query_link(request.GET, page=str(query.page - 1)),
        "export_query": query_link(request.GET, page=None),
    }
    template = "connectors/directory_table.html"
    if request.htmx and request.htmx.target == "table-data":
        template += "#table-data"
    return render(request, template, context)


def _last_page(query: directory.DirectoryQuery, total: int) -> int:
    """The number of pages; a page past the last shows the last, and says so."""
    pages = max(1, -(-total // directory.PAGE_SIZE))
    if query.page > pages:
        last = "There is 1 page" if pages == 1 else f"There are {pages} pages"
        query.problems.append(f"{last}; showing the last.")
        query.page = pages
    return pages


def _headers(params: QueryDict, query: directory.DirectoryQuery, columns) -> list[dict]:
    """Each column's header: its sort link (a second click reverses) and aria-sort."""
    headers = []
    for c in columns:
        here = query.sort_column == c.name
        sort = f"-{c.name}" if here and not query.descending else c.name
        headers.append(
            {
                "name": c.name,
                "href": query_link(params, sort=sort, page=None),
                "aria": ARIA[query.descending] if here else "none",
                "arrow": ("↓" if query.descending else "↑") if here else "",
                "time": c.kind == "time",
            }
        )
    return headers


def _body(connector: Connector, columns, found: list) -> list[dict]:
    """The page's rows as cells shown in the user's time zone, projects by name."""
    zone = timezone.get_current_timezone()
    projects = dict(
        ProjectEntry.objects.filter(connector=connector).values_list("openai_id", "name")
    )
    return [
        {
            "state": row.state,
            "cells": [
                {"text": directory.shown(c, getattr(row, c.field), zone, projects), "kind": c.kind}
                for c in columns
            ],
        }
        for row in found
    ]


def directory_export(request: HttpRequest, connector: Connector, table: str) -> HttpResponse:
    """The filtered directory as CSV, or a 400 page when a filter cannot be used (the
    page number is no filter: the export holds every page)."""
    params = request.GET.copy()
    params.pop("page", None)
    query = directory.parse_query(table, params)
    if query.problems:
        return export_refused(request, connector, table, query.problems)
    lines = (csv_text([row]) for row in directory.csv_rows(connector, query))
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{table}.csv"'
    return response


def export_refused(
    request: HttpRequest, connector: Connector, table: str, problems: list[str]
) -> HttpResponse:
    """The 400 page of an export whose URL holds values it cannot use, linking back to
    the table page with the same URL (which shows the rows without them, and says so)."""
    back = reverse("connectors:table-detail", args=[connector.pk, table])
    lead = "Nothing was exported: an export holds exactly what its filters ask for, and"
    lead += " these values cannot be used."
    said = [refused(p) for p in problems]
    return bad_request(request, lead, said, f"{back}?{request.GET.urlencode()}")
