"""Migration 0009 gives existing rollup rows the newest `lastFetchedAt` of the rows they
sum: what collecting would have written, on Postgres (SQL) and elsewhere (the ORM)."""

from __future__ import annotations

import importlib
from datetime import UTC, timedelta

import pytest
from django.apps import apps
from django.db import connection
from django.db.models import F, Max
from django.db.models.functions import TruncDate

from connectors.models import DAILY_BY_TABLES, DAILY_TABLES, USAGE_TABLES
from tests.collection.conftest import run_now

backfill = importlib.import_module("connectors.migrations.0009_fill_rollup_last_fetched")


def newest_per_group(task, by: str) -> dict:
    rows = USAGE_TABLES["completions"].objects.filter(task=task)
    rows = rows.annotate(day=TruncDate("start_time", tzinfo=UTC)).values("day", by)
    return {(r["day"], r[by]): r["newest"] for r in rows.annotate(newest=Max("last_fetched_at"))}


@pytest.mark.parametrize("way", ["sql", "orm"])
def test_it_fills_the_newest_fetch_time_of_existing_rollup_rows(make_task, way):
    if way == "sql" and connection.vendor != "postgresql":
        pytest.skip("the SQL backfill is Postgres's")
    task = make_task(
        "completions",
        StartTime="2026-10-01",
        EndTime="2026-10-08",
        BucketWidth="1h",
        GroupBy=["model"],  # projectId stays NULL: a value of its own
    )
    assert run_now(task).status == "succeeded"
    rows = USAGE_TABLES["completions"].objects.filter(task=task)
    rows.update(last_fetched_at=F("start_time") + timedelta(minutes=90))  # older fetches
    one_model = rows.values_list("model", flat=True).first()
    rows.filter(model=one_model).update(last_fetched_at=F("start_time") + timedelta(hours=5))
    daily, by = DAILY_TABLES["completions"], DAILY_BY_TABLES["completions"]
    daily.objects.update(last_fetched_at=None)
    by.objects.update(last_fetched_at=None)

    if way == "sql":
        with connection.schema_editor() as editor:
            backfill.fill_last_fetched(apps, editor)
    else:
        for model in backfill._models(apps, "Daily"):
            usage = apps.get_model("connectors", model.__name__[: -len("Daily")])
            backfill._fill_daily_orm(model, usage)
        for model in backfill._models(apps, "DailyBy"):
            backfill._fill_by_dimension_orm(
                model, apps.get_model("connectors", model.__name__[:-2])
            )

    expected = newest_per_group(task, "model")
    assert len(set(expected.values())) > 1
    filled = by.objects.filter(task=task, dimension="model")
    assert {(d.day, d.model): d.last_fetched_at for d in filled} == expected
    expected = newest_per_group(task, "projectId")
    filled = by.objects.filter(task=task, dimension="projectId")
    assert {(d.day, d.projectId): d.last_fetched_at for d in filled} == expected
    assert not daily.objects.filter(task=task, last_fetched_at=None).exists()
    newest = daily.objects.filter(task=task).aggregate(newest=Max("last_fetched_at"))["newest"]
    assert newest == rows.aggregate(newest=Max("last_fetched_at"))["newest"]
