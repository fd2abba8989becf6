"""Incremental runs re-read a trailing window and update revised buckets in place."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connectors.models import USAGE_TABLES, StreamState
from connectors.openai.collector import LOOKBACK, PROVISIONAL
from tests.collection.conftest import run_now, table_rows, truth_rows
from tests.fixtures_emulator import EMULATOR_NOW

T0 = datetime.fromtimestamp(EMULATOR_NOW, UTC)


def open_ended_task(make_task):
    start = (T0 - timedelta(hours=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return make_task("completions", StartTime=start, BucketWidth="1h", GroupBy=["model"])


def requested_starts(emulator) -> list[int]:
    return [
        int(r.params["start_time"][0])
        for r in emulator.log.records
        if r.path == "/organization/usage/completions"
    ]


def test_it_rereads_the_lookback_and_updates_revised_buckets_in_place(make_task, emulator):
    task = open_ended_task(make_task)
    first = run_now(task)
    assert first.status == "succeeded", first.error
    assert table_rows(task, "completions") == truth_rows(emulator, task, "completions")
    model = USAGE_TABLES["completions"]
    assert model.objects.filter(task=task, provisional=True).exists()
    mark = StreamState.objects.get(task=task, stream="completions").high_water
    assert mark == T0

    emulator.advance(2 * 3600)
    emulator.log.clear()
    second = run_now(task)
    assert second.status == "succeeded", second.error
    assert requested_starts(emulator) == [int((mark - LOOKBACK["1h"]).timestamp())]
    assert second.rows_updated > 0 and second.rows_inserted > 0
    assert table_rows(task, "completions") == truth_rows(emulator, task, "completions")
    now = T0 + timedelta(hours=2)
    for row in model.objects.filter(task=task):
        assert row.provisional == (row.end_time > now - PROVISIONAL["1h"]), row.start_time


def test_a_lookback_shorter_than_finality_still_rereads_every_provisional_bucket(
    make_task, emulator
):
    """A task with a 5-minute lookback: the next run still starts a finality before the
    mark, so no bucket stays provisional (and stale) for ever."""
    start = (T0 - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    task = make_task("completions", StartTime=start, BucketWidth="1m")
    task.lookback_minutes = 5
    task.save()
    assert run_now(task).status == "succeeded"
    mark = StreamState.objects.get(task=task, stream="completions").high_water
    model = USAGE_TABLES["completions"]
    assert model.objects.filter(task=task, provisional=True).exists()
    emulator.advance(3600)
    emulator.log.clear()
    assert run_now(task).status == "succeeded"
    assert min(requested_starts(emulator)) == int((mark - PROVISIONAL["1m"]).timestamp())
    now = T0 + timedelta(hours=1)
    for row in model.objects.filter(task=task):
        assert row.provisional == (row.end_time > now - PROVISIONAL["1m"]), row.start_time
    assert table_rows(task, "completions") == truth_rows(emulator, task, "completions")


def test_it_advances_the_mark_only_when_a_run_succeeds(make_task, emulator):
    task = open_ended_task(make_task)
    assert run_now(task).status == "succeeded"
    emulator.advance(5 * 3600)
    emulator.faults.configure(emulator.faults.config.__class__(rate_5xx=1.0))
    failed = run_now(task)
    assert failed.status == "failed"
    assert StreamState.objects.get(task=task, stream="completions").high_water == T0


def test_it_keeps_the_daily_rollups_equal_to_their_rows_through_revisions(make_task, emulator):
    from django.db.models import Count, Max, Sum
    from django.db.models.functions import TruncDate

    from connectors.models import DAILY_BY_TABLES, DAILY_TABLES

    task = open_ended_task(make_task)
    assert run_now(task).status == "succeeded"
    emulator.advance(2 * 3600)
    second = run_now(task)
    assert second.status == "succeeded"
    rows = (
        USAGE_TABLES["completions"]
        .objects.filter(task=task)
        .annotate(day=TruncDate("start_time", tzinfo=UTC))
        .values("day", "model")
        .annotate(tokens=Sum("inputTokens"), n=Count("id"), fetched=Max("last_fetched_at"))
    )
    expected = {(r["day"], r["model"]): (r["tokens"], r["n"], r["fetched"]) for r in rows}
    assert max(fetched for *_, fetched in expected.values()) >= second.started_at
    for rollup in (DAILY_TABLES, DAILY_BY_TABLES):
        summed = rollup["completions"].objects.filter(task=task)
        if rollup is DAILY_BY_TABLES:
            summed = summed.filter(dimension="model")
        assert expected == {
            (d.day, d.model): (d.inputTokens, d.row_count, d.last_fetched_at) for d in summed
        }, rollup
