"""Reads that are more than a lookup."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, QuerySet

from connectors.catalogue import CATALOGUE, ConnectorType
from connectors.models import Connector, Task
from connectors.openai.plan import Estimate, estimate, stream_queries


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
