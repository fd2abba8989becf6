"""The connector overview: spend this month against last, the 30-day trend, the top
projects and models by cost and by tokens, and every task's health and freshness."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from django.db.models import Max, OuterRef, Q, QuerySet, Subquery

from connectors.explore import datatables
from connectors.explore.charts import LABELS, TOP, buckets, chart_spec, over_time, top
from connectors.explore.datatables import midnight
from connectors.explore.sums import Total
from connectors.models import USAGE_TABLES, Connector, RunStatus, TaskRun
from connectors.models.runs import ACTIVE
from connectors.openai.streams import UsageStream, streams_for


def model_of(line_item: str) -> str:
    """The model a cost line item is for ("gpt-4o-…, input" → "gpt-4o-…")."""
    for separator in (", ", " | "):
        head = line_item.split(separator)[0]
        if head and head != line_item:
            return head
    return line_item


def top_models_by_cost(costs: QuerySet, limit: int = TOP) -> list[dict]:
    """Line items summed in SQL, then folded by model: a handful of groups, not rows."""
    grouped = costs.exclude(lineItem__isnull=True).order_by().values("lineItem")
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for row in grouped.annotate(total=Total("amountValue")):
        sums[model_of(row["lineItem"])] += row["total"] or 0
    ranked = sorted(sums.items(), key=lambda item: (-item[1], item[0]))[:limit]
    return [{"key": name, "name": name, "value": value} for name, value in ranked]


def month_spend(costs: QuerySet, month: date, today: date) -> dict[str, Any]:
    """Spend in `month` and in the month before (UTC days), in one query. `to_date` sums
    the month before over as many days as `month` has had, for a like-for-like change."""
    start = month.replace(day=1)
    previous = (start - timedelta(days=1)).replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1)
    elapsed = min(today + timedelta(days=1), end) - start
    cut = min(previous + max(elapsed, timedelta()), start)
    window = costs.filter(start_time__gte=midnight(previous), start_time__lt=midnight(end))
    sums = window.aggregate(
        this=Total("amountValue", filter=Q(start_time__gte=midnight(start))),
        last=Total("amountValue", filter=Q(start_time__lt=midnight(start))),
        to_date=Total("amountValue", filter=Q(start_time__lt=midnight(cut))),
    )
    sums = {k: v or Decimal(0) for k, v in sums.items()}
    sums["change"] = (
        (sums["this"] - sums["to_date"]) / sums["to_date"] * 100 if sums["to_date"] else None
    )
    partial = start <= today < end
    through = cut - timedelta(days=1)  # the last day `to_date` includes
    return sums | {"month": start, "previous": previous, "partial": partial, "through": through}


def overview(connector: Connector, month: date, today: date) -> dict[str, Any]:
    """Spend this month against last, the 30-day trend up to the month's end (or today),
    the top projects and models by cost and by tokens, and every task's health."""
    costs = USAGE_TABLES["costs"].objects.filter(connector=connector)
    spend = month_spend(costs, month, today)
    end = min(today + timedelta(days=1), (spend["month"] + timedelta(days=32)).replace(day=1))
    since = midnight(end - timedelta(days=30))
    recent_costs = costs.filter(start_time__gte=since, start_time__lt=midnight(end))
    completions = datatables.stream_for_table("completions")
    recent = datatables.TableQuery(completions, "custom", since, midnight(end))
    tokens = datatables.filtered(connector, recent)
    charts = []
    daily = buckets(recent_costs)
    if daily is not None:
        cost = ("amountValue",)
        trend = over_time(connector, daily, cost, None)
        trend["series"][0]["name"] = "cost"
        charts.append(chart_spec("chart-trend", "Cost per day", "stack", cost, **trend))
        by_project = top(connector, daily.rows, "projectId", cost)
        charts.append(
            chart_spec("chart-cost-projects", "Top projects by cost", "top", cost, items=by_project)
        )
        by_model = top_models_by_cost(daily.rows)
        charts.append(
            chart_spec("chart-cost-models", "Top models by cost", "top", cost, items=by_model)
        )
    used = buckets(tokens, partial(datatables.summed, connector, recent))
    if used is not None:
        both = ("inputTokens", "outputTokens")
        for column in ("projectId", "model"):
            items = top(connector, used.summed(column), column, both)
            title = f"Top {LABELS[column]}s by tokens"
            charts.append(chart_spec(f"chart-tokens-{column}", title, "top", both, items=items))
    window = {"start": since, "end": midnight(end) - timedelta(days=1)}
    health = task_health(connector)
    failing = [h for h in health if h["failing"]]
    return {"spend": spend, "charts": charts, "window": window, "tasks": health, "failing": failing}


def task_health(connector: Connector) -> list[dict[str, Any]]:
    """Per task: its last successful run, its last finished run (and error), and how new
    its newest collected bucket is and whether that bucket is still provisional."""
    finished = TaskRun.objects.filter(task=OuterRef("pk")).exclude(status__in=ACTIVE)
    finished = finished.order_by("-queued_at", "-id")
    tasks = connector.tasks.annotate(
        last_success=Max("runs__finished_at", filter=Q(runs__status=RunStatus.SUCCEEDED)),
        last_status=Subquery(finished.values("status")[:1]),
        last_error=Subquery(finished.values("error")[:1]),
        last_finished=Subquery(finished.values("finished_at")[:1]),
    )
    health = []
    for task in tasks.order_by("id"):
        newest = [_newest(task, s) for s in streams_for(task.query_type)]
        newest = [n for n in newest if n is not None]
        health.append(
            {
                "task": task,
                "newest": max((n["end_time"] for n in newest), default=None),
                "provisional": [n["table"] for n in newest if n["provisional"]],
                "failing": task.last_status == RunStatus.FAILED,
            }
        )
    return health


def _newest(task, stream) -> dict | None:
    """The task's newest bucket in one table. One LIMIT 1 per bucket width, each read
    backwards from the natural-key index (task, bucketWidth, startTime), so a task with
    no rows in a large table costs nothing."""
    if not isinstance(stream, UsageStream):
        return None
    table = USAGE_TABLES[stream.type].objects
    newest = [
        table.filter(task=task, bucket_width=width)
        .order_by("-start_time")
        .values("end_time", "provisional")
        .first()
        for width in stream.bucket_widths
    ]
    newest = [row for row in newest if row is not None]
    if not newest:
        return None
    return max(newest, key=lambda row: row["end_time"]) | {"table": stream.table}
