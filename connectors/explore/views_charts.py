"""Charts: a table's charts (an HTMX fragment of its page) and the connector overview."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from connectors.access import connector_for
from connectors.explore import charts, overview
from connectors.explore.views_organizations import month_param
from connectors.explore.views_tables import stream_or_404, table_query


def table_charts(request: HttpRequest, pk: int, table: str) -> HttpResponse:
    """The charts of a table page, for the same filters as its table: the page draws them
    from its own response first, then asks for them again when its filters change.

    Charts are drawn by JavaScript, so a plain request goes to the table page itself.
    """
    connector = connector_for(request, pk)
    stream = stream_or_404(table)
    if not request.htmx:
        target = reverse("connectors:table-detail", args=[connector.pk, stream.table])
        return redirect(f"{target}?{request.GET.urlencode()}" if request.GET else target)
    query = table_query(request, connector, stream)
    data = charts.page_charts(connector, stream, query, request.GET.get("split", ""))
    context = {"connector": connector, "stream": stream, **data}
    return render(request, "connectors/_charts.html#table-charts", context)


def connector_overview(request: HttpRequest, pk: int) -> HttpResponse:
    connector = connector_for(request, pk)
    today = timezone.now().date()
    month, problems = month_param(request.GET.get("month", ""), today)
    context = {
        "connector": connector,
        "problems": problems,
        **overview.overview(connector, month, today),
    }
    return render(request, "connectors/connector_overview.html", context)
