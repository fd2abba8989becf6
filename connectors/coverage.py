"""What each task has collected: spans of time per stream and bucket width.

A page's span is recorded in the page's own transaction (`cover`), so coverage never
claims a bucket the table does not hold. Changing what a task groups by or filters on
makes its earlier rows a different dataset: `task_grain_changed` forgets them.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from connectors.models import (
    DAILY_BY_TABLES,
    DAILY_TABLES,
    USAGE_TABLES,
    Coverage,
    StreamState,
    Task,
)
from connectors.openai.plan import StreamQuery, stream_queries
from connectors.openai.streams import UsageStream


def cover(
    task_id: int, stream: str, width: str, start: datetime, end: datetime, fetched_at: datetime
) -> None:
    """Add [start, end) to the task's coverage of `stream` at `width`, merged with the
    spans it touches. Two statements in the common case (one span growing)."""
    if end <= start:
        return
    spans = list(
        Coverage.objects.filter(
            task_id=task_id, stream=stream, bucket_width=width, start__lte=end, end__gte=start
        ).order_by("start")
    )
    if not spans:
        Coverage.objects.create(
            task_id=task_id,
            stream=stream,
            bucket_width=width,
            start=start,
            end=end,
            fetched_at=fetched_at,
        )
        return
    first, *rest = spans
    Coverage.objects.filter(pk=first.pk).update(
        start=min(start, first.start),
        end=max([end, *(s.end for s in spans)]),
        fetched_at=fetched_at,
    )
    if rest:
        Coverage.objects.filter(pk__in=[s.pk for s in rest]).delete()


def grain(query: StreamQuery) -> tuple:
    """What makes rows of one stream comparable: the dimensions and the filters."""
    filters = tuple(sorted((k, str(v)) for k, v in query.filters.items()))
    return tuple(sorted(query.group_by)), filters


def usage_grains(task: Task) -> dict[str, tuple]:
    if not task.pk:
        return {}
    queries = stream_queries(task.query_type, task.parameters)
    return {q.stream.type: grain(q) for q in queries if isinstance(q.stream, UsageStream)}


def task_grain_changed(task: Task, before: dict[str, tuple]) -> list[str]:
    """After a task is saved: the streams whose dimensions or filters changed lose their
    rows, rollups, coverage and high-water mark (the next run collects them again at the
    new grain); rows of one grain summed with rows of another would count twice. Returns
    the streams forgotten."""
    after = usage_grains(task)
    changed = [s for s, g in before.items() if s in after and after[s] != g]
    changed += [s for s in before if s not in after]
    for stream in changed:
        forget(task, stream)
    return changed


def forget(task: Task, stream: str) -> None:
    with transaction.atomic():
        for tables in (DAILY_BY_TABLES, DAILY_TABLES, USAGE_TABLES):
            if stream in tables:
                tables[stream].objects.filter(task=task).delete()
        Coverage.objects.filter(task=task, stream=stream).delete()
        StreamState.objects.filter(task=task, stream=stream).delete()
