"""The connector overview: spend this month against last, the 30-day trend, the top
projects and models by cost and by tokens, and every task's health and freshness."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Max, OuterRef, Q, QuerySet, Subquery

from connectors.explore import datatables, planner
from connectors.explore.charts import TOP, chart_spec, column_label, over_time, query_buckets, top
from connectors.explore.planner import midnight
from connectors.explore.sums import Total
from connectors.models import USAGE_TABLES, Connector, RunStatus, TaskRun
from connectors.models.runs import ACTIVE
from connectors.openai.streams import STREAMS, UsageStream, streams_for


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


def month_spend(
    connector: Connector, month: date, today: date, found: list[planner.Dataset] | None = None
) -> dict[str, Any]:
    """Spend in `month` and in the month before (UTC days), each day from the one costs
    task that answers it (`planner`), and the change between them over the days both
    months have whole: every day of both when both are complete, else day k of one
    month against day k of the other where both have day k collected and whole (never
    a partial today, never a day no task collected). `found`: the connector's costs
    datasets when the caller has read them already."""
    start = month.replace(day=1)
    previous = (start - timedelta(days=1)).replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1)
    query = datatables.TableQuery(
        STREAMS["costs"], "custom", midnight(previous), midnight(end), datasets=found
    )
    answer = datatables.answer(connector, query)
    per_day, provisional = _daily_amounts(datatables.filtered(connector, query))
    answered = answer.days
    whole = answered - answer.partial_days
    this_days = {d for d in answered if d >= start}
    last_days = answered - this_days
    complete = planner.days_in(previous, end) <= whole
    compared_this, compared_last = _compared(start, previous, whole, this_days, last_days, complete)
    this_cmp, last_cmp = _sum(per_day, compared_this), _sum(per_day, compared_last)
    tomorrow = today + timedelta(days=1)
    return {
        "month": start,
        "previous": previous,
        "this": _sum(per_day, this_days),
        "last": _sum(per_day, last_days),
        "answered": answer.answered,
        "answer": answer,
        "this_missing": _gaps(start, min(end, tomorrow), answered),
        "last_missing": _gaps(previous, start, answered),
        "until": answer.until if answer.until and answer.until.date() >= start else None,
        "partial": planner.partial_words(answer),
        "this_provisional": planner.day_ranges(planner.ranges(provisional & this_days)),
        "last_provisional": planner.day_ranges(planner.ranges(provisional & last_days)),
        "this_complete": planner.days_in(start, end) <= whole,
        "last_complete": planner.days_in(previous, start) <= whole,
        "change": (this_cmp - last_cmp) / last_cmp * 100 if last_cmp else None,
        "compared_this": planner.day_ranges(planner.ranges(compared_this)),
        "compared_last": planner.day_ranges(planner.ranges(compared_last)),
        "compared_all": complete,
        "this_compared": this_cmp,
        "last_compared": last_cmp,
    }


def _compared(
    start: date, previous: date, whole: set[date], this_days: set, last_days: set, complete: bool
) -> tuple[list[date], list[date]]:
    """The days the change compares: every day of both months when both are complete,
    else day k of this month against day k of the month before, where both are whole."""
    if complete:
        return sorted(this_days), sorted(last_days)
    pairs = [
        (d, previous + (d - start))
        for d in sorted(whole & this_days)
        if previous + (d - start) < start and previous + (d - start) in whole
    ]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def _sum(per_day: dict[date, Decimal], days) -> Decimal:
    return sum((per_day.get(d, Decimal(0)) for d in days), Decimal(0))


def _daily_amounts(costs: QuerySet) -> tuple[dict[date, Decimal], set[date]]:
    """The answering costs rows summed per UTC day (their buckets start at midnight), and
    the days holding a bucket OpenAI may still revise."""
    grouped = (
        costs.order_by()
        .values("start_time")
        .annotate(
            total=Total("amountValue"), provisional_rows=Count("id", filter=Q(provisional=True))
        )
    )
    amounts, provisional = {}, set()
    for row in grouped:
        day = row["start_time"].astimezone(UTC).date()
        amounts[day] = Decimal(row["total"] or 0)
        if row["provisional_rows"]:
            provisional.add(day)
    return amounts, provisional


def _gaps(start: date, end: date, answered: set[date]) -> str:
    """The days of [start, end) no task answered, in words."""
    return planner.day_ranges(planner.ranges(planner.days_in(start, end) - answered))


def overview(connector: Connector, month: date, today: date) -> dict[str, Any]:
    """Spend this month against last, the 30-day trend up to the month's end (or today),
    the top projects and models by cost and by tokens, and every task's health. Each
    figure is answered day by day by one task (`planner`), never by two."""
    found = planner.datasets(connector, STREAMS["costs"])  # read once for both questions
    spend = month_spend(connector, month, today, found)
    end = min(today + timedelta(days=1), (spend["month"] + timedelta(days=32)).replace(day=1))
    since = midnight(end - timedelta(days=30))
    costs = datatables.TableQuery(STREAMS["costs"], "custom", since, midnight(end), datasets=found)
    completions = datatables.TableQuery(STREAMS["completions"], "custom", since, midnight(end))
    charts = []
    daily = query_buckets(connector, costs)
    answers = []
    if daily is not None:
        cost = ("amountValue",)
        trend = over_time(connector, daily, cost, None)
        trend["series"][0]["name"] = "cost"
        charts.append(chart_spec("chart-trend", "Cost per day", "stack", cost, **trend))
        answers.append(("Cost per day", datatables.answer(connector, costs)))
        by_project = top(connector, daily.rows_by("projectId"), "projectId", cost)
        charts.append(
            chart_spec("chart-cost-projects", "Top projects by cost", "top", cost, items=by_project)
        )
        answers.append(("Top projects by cost", datatables.answer(connector, costs, "projectId")))
        by_model = top_models_by_cost(daily.rows_by("lineItem"))
        charts.append(
            chart_spec("chart-cost-models", "Top models by cost", "top", cost, items=by_model)
        )
        answers.append(("Top models by cost", datatables.answer(connector, costs, "lineItem")))
    used = query_buckets(connector, completions)
    if used is not None:
        both = ("inputTokens", "outputTokens")
        for column in ("projectId", "model"):
            items = top(connector, used.summed(column), column, both)
            title = f"Top {column_label(column)}s by tokens"
            charts.append(chart_spec(f"chart-tokens-{column}", title, "top", both, items=items))
            answers.append((title, datatables.answer(connector, completions, column)))
    window = {"start": since, "end": midnight(end) - timedelta(days=1)}
    health = task_health(connector)
    failing = [h for h in health if h["failing"]]
    return {
        "spend": spend,
        "charts": charts,
        "answers": [_answer_words(title, a) for title, a in answers],
        "window": window,
        "tasks": health,
        "failing": failing,
    }


def _answer_words(title: str, answer: planner.Answer) -> dict[str, Any]:
    """A chart's coverage in one line: the days and tasks answering, what is missing."""
    return {
        "title": title,
        "answer": answer,
        "missing": planner.day_ranges(answer.missing),
    }


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
