"""Reads that are more than a lookup."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Count, Max, Min, OuterRef, QuerySet, Subquery, Sum

from connectors.catalogue import CATALOGUE, ConnectorType
from connectors.explore import datatables
from connectors.models import USAGE_TABLES, Connector, Task
from connectors.openai.plan import Estimate, estimate, stream_queries
from connectors.openai.streams import UsageStream


def connector_list() -> QuerySet[Connector]:
    return Connector.objects.annotate(task_count=Count("tasks"))


def catalogue_search(query: str, category: str) -> list[ConnectorType]:
    """The catalogue tiles matching a name search and a category tab."""
    query = query.strip().lower()
    return [
        entry
        for entry in CATALOGUE.values()
        if query in entry.name.lower() and category in ("", "All", entry.category)
    ]


def task_estimates(task: Task, now: datetime) -> tuple[list[Estimate], int]:
    """What a full run costs: the requests per stream, and their sum."""
    estimates = [estimate(q, now) for q in stream_queries(task.query_type, task.parameters)]
    return estimates, sum(e.requests for e in estimates)


def table_summary(connector: Connector, stream: UsageStream, tasks: list[Task]) -> dict[str, Any]:
    """A table's row count, the time range its rows cover, when they were last fetched
    and the tasks feeding it: from its per-dimension rollup and index probes, never a
    pass over its rows (costs, which has no rollup, counts its daily rows)."""
    rows = USAGE_TABLES[stream.type].objects.filter(connector=connector)
    rollup = datatables.summed(connector, datatables.TableQuery(stream, preset="all"))
    if rollup is not None:
        span = rollup.aggregate(count=Sum("row_count"), updated=Max("last_fetched_at"))
    else:
        span = rows.aggregate(count=Count("id"), updated=Max("last_fetched_at"))
    span["count"] = span["count"] or 0
    span["first"] = span["last"] = None
    if span["count"]:
        span["first"] = rows.aggregate(first=Min("start_time"))["first"]
        span["last"] = _last_end(rows, stream, [t.pk for t in tasks])
    feeding = [t for t in tasks if t.query_type in (stream.type, "all", "generic")]
    return {"stream": stream, "tasks": feeding, **span}


def _last_end(rows: QuerySet, stream: UsageStream, task_ids: list[int]):
    """The latest bucket end: per task and bucket width, the end of its latest bucket,
    read backwards from the natural-key index (task, bucketWidth, startTime); one query."""
    latest = {
        width: Subquery(
            rows.filter(task=OuterRef("pk"), bucket_width=width)
            .order_by("-start_time")
            .values("end_time")[:1]
        )
        for width in stream.bucket_widths
    }
    ends = Task.objects.filter(pk__in=task_ids).annotate(**latest).values_list(*latest)
    return max((end for row in ends for end in row if end is not None), default=None)
