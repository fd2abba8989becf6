"""Reads that are more than a lookup."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Count, Max, QuerySet, Sum

from connectors.explore import datatables, planner
from connectors.models import Connector, Task
from connectors.openai.plan import Estimate, estimate, stream_queries
from connectors.openai.streams import UsageStream
from connectors.setup.catalogue import CATALOGUE, ConnectorType


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


def table_summary(
    connector: Connector,
    stream: UsageStream,
    tasks: list[Task],
    found: list[planner.Dataset] | None = None,
) -> dict[str, Any]:
    """A table's rows answering its default question (all time, each day from one task:
    never two overlapping tasks' rows added), the time its tasks have collected, when its
    rows were last fetched and, per task, what it holds. From the rollups and the
    coverage records, never a pass over the rows (costs, which has no rollup, counts
    its daily rows)."""
    query = datatables.TableQuery(stream, preset="all", datasets=found)
    answer = datatables.answer(connector, query)
    rollup = datatables.summed(connector, query)
    if rollup is not None:
        span = rollup.aggregate(count=Sum("row_count"), updated=Max("last_fetched_at"))
    else:
        rows = datatables.filtered(connector, query)
        span = rows.aggregate(count=Count("id"), updated=Max("last_fetched_at"))
    span["count"] = span["count"] or 0
    found = query.datasets  # read by `answer` when the caller had not
    span["first"] = min((d.spans[0][0] for d in found), default=None)
    span["last"] = max((end for d in found for _, end, _ in d.spans), default=None)
    feeding = [t for t in tasks if t.query_type in (stream.type, "all", "generic")]
    held = [
        {"task": d.task, "width": d.width, "first": d.spans[0][0], "last": d.spans[-1][1],
         "gaps": len(d.spans) - 1}
        for d in sorted(found, key=lambda d: (d.task.pk, d.width))
    ]  # fmt: skip
    return {"stream": stream, "tasks": feeding, "answer": answer, "datasets": held, **span}
