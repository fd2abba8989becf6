"""All organizations at once: each connector's spend in a month against the month before,
the top projects and models by cost across them, and each connector's freshness.

A connector is one OpenAI organization, so figures of different connectors add up.
Within a connector every figure comes from the planner (`overview.month_spend`,
`charts.query_buckets`): each day from one task, never from two tasks that overlap.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Max

from connectors.explore import charts, datatables, overview, planner
from connectors.explore.planner import midnight
from connectors.models import Connector, Coverage
from connectors.openai.streams import STREAMS

COST = ("amountValue",)
EVERY = 10**9  # as a limit: every model, summed across organizations before ranking


def organizations(month: date, today: date) -> dict[str, Any]:
    """Everything the page shows for `month` (UTC), read one connector at a time."""
    connectors = list(Connector.objects.order_by("name", "id"))
    found = {c.pk: planner.datasets(c, STREAMS["costs"]) for c in connectors}
    rows = [spend_row(c, month, today, found[c.pk]) for c in connectors]
    start, end = month_days(month, today)
    costs = [_month_costs(c, start, end, found[c.pk]) for c in connectors]
    return {
        "month": start,
        "previous": (start - timedelta(days=1)).replace(day=1),
        "spend": rows,
        "total": spend_total(rows),
        "projects": top_projects(costs),
        "models": top_models(costs),
        "projects_notes": _notes(costs, "projects"),
        "models_notes": _notes(costs, "models"),
        "freshness": freshness(connectors),
    }


def month_days(month: date, today: date) -> tuple[date, date]:
    """The month's UTC days [start, end), up to today."""
    start = month.replace(day=1)
    end = (start + timedelta(days=32)).replace(day=1)
    return start, min(end, today + timedelta(days=1))


# --- spend ------------------------------------------------------------------------


def spend_row(
    connector: Connector, month: date, today: date, found: list[planner.Dataset]
) -> dict[str, Any]:
    """The connector's `overview.month_spend`, and whether any day of each month is
    answered: a month with none shows no figure rather than $0."""
    spend = overview.month_spend(connector, month, today, found)
    parts = spend["answer"].parts
    return {
        "connector": connector,
        "spend": spend,
        "this_known": any(part.end > spend["month"] for part in parts),
        "last_known": any(part.start < spend["month"] for part in parts),
    }


def spend_total(rows: list[dict]) -> dict[str, Any]:
    """The connectors' spends added up. The change is over the days each connector
    compares (its `this_compared` against its `last_compared`), so an organization with
    a day missing in one month never counts that day's twin in the other."""
    answered = [r["spend"] for r in rows if r["spend"]["answered"]]
    this_cmp = sum((s["this_compared"] for s in answered), Decimal(0))
    last_cmp = sum((s["last_compared"] for s in answered), Decimal(0))
    return {
        "this_known": any(r["this_known"] for r in rows),
        "last_known": any(r["last_known"] for r in rows),
        "this": sum((r["spend"]["this"] for r in rows if r["this_known"]), Decimal(0)),
        "last": sum((r["spend"]["last"] for r in rows if r["last_known"]), Decimal(0)),
        "change": (this_cmp - last_cmp) / last_cmp * 100 if last_cmp else None,
        "this_complete": all(s["this_complete"] for s in answered),
        "last_complete": all(s["last_complete"] for s in answered),
        "compared_all": all(s["compared_all"] for s in answered),
        "left_out": [r["connector"] for r in rows if not r["spend"]["answered"]],
        "gaps": [r["connector"] for r in rows if r["spend"]["answered"] and _gaps(r["spend"])],
    }


def _gaps(spend: dict) -> bool:
    return bool(spend["this_missing"] or spend["last_missing"])


# --- top projects and models --------------------------------------------------------


@dataclass
class MonthCosts:
    """One connector's cost in the month by project and by model, with the planner's
    answers saying which days (and tasks) these come from."""

    connector: Connector
    projects: list[dict]  # its TOP projects: key, name, value
    models: dict[str, Decimal]  # every model → its cost
    answers: dict[str, planner.Answer]  # "projects" / "models" → the answer


def _month_costs(
    connector: Connector, start: date, end: date, found: list[planner.Dataset]
) -> MonthCosts:
    query = datatables.TableQuery(
        STREAMS["costs"], "custom", midnight(start), midnight(end), datasets=found
    )
    found = charts.query_buckets(connector, query)
    projects, models = [], {}
    if found is not None:
        projects = charts.top(connector, found.rows_by("projectId"), "projectId", COST)
        by_line = overview.top_models_by_cost(found.rows_by("lineItem"), limit=EVERY)
        models = {item["key"]: item["value"] for item in by_line}
    answers = {
        "projects": datatables.answer(connector, query, "projectId"),
        "models": datatables.answer(connector, query, "lineItem"),
    }
    return MonthCosts(connector, projects, models, answers)


def top_projects(costs: list[MonthCosts], limit: int = charts.TOP) -> list[dict]:
    """The projects of every organization ranked together. A project belongs to one
    organization, so each connector's own top `limit` hold the overall top `limit`."""
    items = [
        item | {"connector": c.connector, "name": f"{item['name']} · {c.connector.name}"}
        for c in costs
        for item in c.projects
    ]
    return sorted(items, key=lambda item: (-item["value"], item["name"]))[:limit]


def top_models(costs: list[MonthCosts], limit: int = charts.TOP) -> list[dict]:
    """Models ranked by their cost summed across organizations (one model, many orgs)."""
    sums: dict[str, Decimal] = defaultdict(Decimal)
    used: dict[str, list[Connector]] = defaultdict(list)
    for c in costs:
        for model, value in c.models.items():
            sums[model] += value
            used[model].append(c.connector)
    ranked = sorted(sums.items(), key=lambda item: (-item[1], item[0]))[:limit]
    return [{"key": m, "name": m, "value": v, "connectors": used[m]} for m, v in ranked]


def _notes(costs: list[MonthCosts], which: str) -> list[dict]:
    """Per connector whose figures leave days out: what is missing, in words."""
    notes = []
    for c in costs:
        answer = c.answers[which]
        if answer.answered and not answer.missing:
            continue
        notes.append(
            {
                "connector": c.connector,
                "answer": answer,
                "missing": planner.day_ranges(answer.missing),
            }
        )
    return notes


# --- freshness ----------------------------------------------------------------------


def freshness(connectors: list[Connector]) -> list[dict]:
    """Per connector: the newest time its tasks have collected up to (any stream), when
    it last fetched, how many tasks it has and which of them failed their last run."""
    spans = Coverage.objects.filter(task__connector__in=connectors).order_by()
    spans = spans.values("task__connector").annotate(newest=Max("end"), fetched=Max("fetched_at"))
    newest: dict[int, dict[str, datetime]] = {s["task__connector"]: s for s in spans}
    result = []
    for connector in connectors:
        health = overview.task_health(connector)
        collected = newest.get(connector.pk, {})
        result.append(
            {
                "connector": connector,
                "newest": collected.get("newest"),
                "fetched": collected.get("fetched"),
                "tasks": len(health),
                "failing": [h["task"] for h in health if h["failing"]],
            }
        )
    return result
