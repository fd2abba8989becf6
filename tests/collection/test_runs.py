"""Runs: retries, permanent failures, one active run, cancel, schedule, bulk writes."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from connectors.collection import engine, queue
from connectors.collection.recorder import Recorder
from connectors.models import USAGE_TABLES, RunStatus, TaskRun
from connectors.openai.emulator import DEMO_NO_USAGE_KEY, FaultConfig
from connectors.openai.pages import ContractError
from connectors.openai.persistence import usage_rows
from connectors.openai.streams import STREAMS
from connectors.openai.writer import write_rows
from tests.collection.conftest import run_now, table_rows, truth_rows


def write_page(model, stream, width, task_id, connector_id, buckets, provisional_after, fetched_at):
    """A page's buckets made rows and written, as the engine writes a page."""
    rows = usage_rows(stream, width, task_id, connector_id, buckets, provisional_after)
    return write_rows(model, rows, fetched_at, stream.path)


def month_task(make_task):
    return make_task(
        "completions",
        StartTime="2026-09-01",
        EndTime="2026-10-01",
        BucketWidth="1h",
        GroupBy=["project_id", "model"],
    )


def test_it_finishes_with_the_exact_truth_under_a_429_and_5xx_storm(make_task, emulator):
    emulator.faults.configure(FaultConfig(rate_429=0.3, rate_5xx=0.1, retry_after=1, seed=7))
    task = month_task(make_task)
    run = run_now(task)
    assert run.status == "succeeded", run.error
    faults = [r for r in emulator.log.records if r.fault]
    assert faults, "the storm should have hit some requests"
    assert run.requests_made == len(emulator.log.records)
    assert any("Retrying in" in line for line in run.log)
    assert table_rows(task, "completions") == truth_rows(emulator, task, "completions")


@pytest.mark.parametrize("kind", ["drop", "truncate", "malformed"])
def test_it_retries_broken_answers(make_task, emulator, kind):
    emulator.faults.configure(FaultConfig(**{f"rate_{kind}": 0.25}, seed=3))
    task = month_task(make_task)
    run = run_now(task)
    assert run.status == "succeeded", run.error
    assert any(r.fault == kind for r in emulator.log.records)
    assert table_rows(task, "completions") == truth_rows(emulator, task, "completions")


def test_it_retries_timeouts(make_task, emulator, settings):
    settings.OPENAI_TIMEOUT_SECONDS = 0.25
    emulator.faults.configure(FaultConfig(latency_ms=150, jitter_ms=300, seed=11))
    task = make_task("embeddings", StartTime="2026-10-01", EndTime="2026-10-03", BucketWidth="1h")
    task.connector.directory_refreshed_at = timezone.now()  # keep the run to one stream
    task.connector.save()
    run = run_now(task)
    assert run.status == "succeeded", run.error
    assert any("did not answer in time" in line for line in run.log)
    assert table_rows(task, "embeddings") == truth_rows(emulator, task, "embeddings")


def test_it_fails_at_once_without_the_usage_scope_and_stores_nothing(make_task, emulator):
    task = month_task(make_task)
    task.connector.set_admin_key(DEMO_NO_USAGE_KEY)
    task.connector.save()
    run = run_now(task)
    assert run.status == RunStatus.FAILED
    assert "The key lacks the api.usage.read scope" in run.error
    assert emulator.log.count("/organization/usage/completions") == 1  # a 403 is not retried
    costs = make_task("costs", StartTime="2026-09-01", EndTime="2026-09-05")
    assert run_now(costs).status == RunStatus.FAILED
    assert emulator.log.count("/organization/costs") == 1  # a 403 is not retried
    assert not USAGE_TABLES["completions"].objects.exists()
    assert DEMO_NO_USAGE_KEY not in run.error + " ".join(run.log)


def test_it_keeps_an_unaligned_first_bucket(make_task, emulator):
    task = make_task(
        "completions", StartTime="2026-09-01T00:30:00", EndTime="2026-09-03", BucketWidth="1h"
    )
    run = run_now(task)
    assert run.status == RunStatus.SUCCEEDED  # an unaligned start is fine...
    first = USAGE_TABLES["completions"].objects.filter(task=task).order_by("start_time").first()
    assert first.start_time == datetime(2026, 9, 1, 0, 30, tzinfo=UTC)
    assert table_rows(task, "completions") == truth_rows(emulator, task, "completions")


def test_it_keeps_one_active_run_per_task(task):
    first, message = queue.run_enqueue(task, "manual")
    assert first is not None and message == ""
    second, message = queue.run_enqueue(task, "manual")
    assert second is None and "already" in message
    task.queue_behaviour = "queue"
    task.save()
    TaskRun.objects.filter(pk=first.pk).update(
        status=RunStatus.RUNNING, heartbeat_at=timezone.now()
    )
    waiting, _ = queue.run_enqueue(task, "schedule")
    assert waiting is not None and waiting.status == RunStatus.QUEUED
    third, message = queue.run_enqueue(task, "manual")
    assert third is None and "waiting" in message
    assert queue.claim(waiting.pk) is None  # cannot start while the first is running
    assert queue.claim(first.pk) is None  # running with a fresh heartbeat: not claimable


def test_it_reclaims_a_run_whose_worker_stopped_beating(task, settings):
    run = TaskRun.objects.create(
        task=task,
        trigger="manual",
        status=RunStatus.RUNNING,
        heartbeat_at=timezone.now() - timedelta(minutes=10),
    )
    settings.RUN_STALE_AFTER_SECONDS = 60
    claimed = queue.claim(run.pk)
    assert claimed is not None and claimed.attempts == 1


def test_it_cancels_a_queued_run_at_once_and_a_running_one_after_its_page(make_task, monkeypatch):
    task = month_task(make_task)
    queued = TaskRun.objects.create(task=task, trigger="manual")
    queue.run_cancel(queued)
    queued.refresh_from_db()
    assert queued.status == RunStatus.CANCELLED
    task.connector.directory_refreshed_at = timezone.now()
    task.connector.save()
    running = TaskRun.objects.create(task=task, trigger="manual")
    original = Recorder.page_done

    def user_clicks_cancel_during_first_page(self, counts):
        queue.run_cancel(self.run)
        original(self, counts)

    monkeypatch.setattr(Recorder, "page_done", user_clicks_cancel_during_first_page)
    engine.run_execute(running.pk)
    running.refresh_from_db()
    assert running.status == RunStatus.CANCELLED
    assert running.pages == 1


def test_it_fires_each_scheduled_time_once(task, django_capture_on_commit_callbacks):
    task.schedule_enabled = True
    task.schedule_start = timezone.now() - timedelta(hours=5, minutes=1)
    task.interval_unit, task.interval_every = "hours", 1
    task.save()
    fired = queue.schedule_tick()
    assert len(fired) == 1
    assert queue.schedule_tick() == []  # the same time does not fire again
    TaskRun.objects.update(status=RunStatus.SUCCEEDED)
    later = timezone.now() + timedelta(hours=1)
    assert len(queue.schedule_tick(later)) == 1


@pytest.mark.parametrize("size", [3, 300])
def test_it_writes_a_page_in_a_fixed_number_of_statements_whatever_its_size(task, size):
    stream = STREAMS["completions"]
    start = int(datetime(2026, 9, 1, tzinfo=UTC).timestamp())

    def page(tokens: int) -> list[dict]:
        result = {
            "object": stream.result_object,
            "input_tokens": tokens,
            "output_tokens": 1,
            "num_model_requests": 1,
        }
        return [
            {
                "object": "bucket",
                "start_time": start + i * 3600,
                "end_time": start + (i + 1) * 3600,
                "results": [result | {"input_tokens": tokens + i}],
            }
            for i in range(size)
        ]

    model = USAGE_TABLES["completions"]
    with CaptureQueriesContext(connection) as queries:
        counts = write_page(
            model, stream, "1h", task.pk, task.connector_id, page(0), start, timezone.now()
        )
    # Postgres: a savepoint and the page's keys read from the index (one round trip),
    # then one COPY of the new rows (its fallback, should another writer race it, is the
    # upsert, after a rollback to the savepoint).
    assert len(queries) == (2 if connection.vendor == "postgresql" else 1)
    assert sum("COPY" in q["sql"] for q in queries) == (connection.vendor == "postgresql")
    assert counts.inserted == size
    changed = page(0)
    changed[0]["results"][0]["input_tokens"] = 999
    with CaptureQueriesContext(connection) as queries:
        counts = write_page(
            model,
            stream,
            "1h",
            task.pk,
            task.connector_id,
            changed,
            start,
            timezone.now() + timedelta(seconds=1),
        )
    # Postgres: the savepoint and keys, then the held rows copied to a scratch table, one
    # UPDATE from it, and the scratch table emptied.
    assert len(queries) == (5 if connection.vendor == "postgresql" else 1)
    assert (counts.inserted, counts.updated, counts.unchanged) == (0, 1, size - 1)
    assert model.objects.filter(task=task).count() == size


def test_a_page_raced_by_another_writer_is_upserted_not_duplicated(transactional_db, task):
    """A second writer commits one of the page's rows after the page's keys were read:
    the COPY fails on the natural key, and the page goes through the upsert instead."""
    if connection.vendor != "postgresql":
        pytest.skip("the COPY path is Postgres's")
    stream, model = STREAMS["completions"], USAGE_TABLES["completions"]
    start = int(datetime(2026, 9, 1, tzinfo=UTC).timestamp())
    page = [
        {
            "object": "bucket",
            "start_time": start + i * 3600,
            "end_time": start + (i + 1) * 3600,
            "results": [
                {
                    "object": stream.result_object,
                    "input_tokens": 10 + i,
                    "output_tokens": 1,
                    "num_model_requests": 1,
                }
            ],
        }
        for i in range(5)
    ]
    written, release = threading.Event(), threading.Event()

    def other_writer() -> None:
        try:
            with transaction.atomic():
                write_page(model, stream, "1h", task.pk, task.connector_id, page[2:3], start,
                           timezone.now())  # fmt: skip
                written.set()
                release.wait(10)
        finally:
            connection.close()

    other = threading.Thread(target=other_writer)
    other.start()
    assert written.wait(10)
    # The other writer's row is not committed yet: this page's COPY waits on its key.
    threading.Timer(0.5, release.set).start()
    with transaction.atomic():
        counts = write_page(
            model, stream, "1h", task.pk, task.connector_id, page, start, timezone.now()
        )
    other.join(10)
    assert (counts.inserted, counts.updated, counts.unchanged) == (4, 0, 1)
    stored = dict(model.objects.filter(task=task).values_list("start_time", "inputTokens"))
    assert stored == {datetime.fromtimestamp(b["start_time"], UTC): 10 + i for i, b in
                      enumerate(page)}  # fmt: skip


def test_it_refuses_a_metric_of_the_wrong_type(task):
    stream = STREAMS["completions"]
    bucket = {
        "object": "bucket",
        "start_time": 0,
        "end_time": 3600,
        "results": [
            {
                "object": stream.result_object,
                "input_tokens": "lots",
                "output_tokens": 1,
                "num_model_requests": 1,
            }
        ],
    }
    with pytest.raises(ContractError, match="input_tokens|wrong type"):
        write_page(
            USAGE_TABLES["completions"],
            stream,
            "1h",
            task.pk,
            task.connector_id,
            [bucket],
            0,
            timezone.now(),
        )


def test_it_checks_every_result_of_a_page_not_only_the_first(task):
    """Rows whose values come as documented skip the per-field checks after the first
    such row; a later result of another shape is still converted or refused."""
    stream = STREAMS["completions"]
    model = USAGE_TABLES["completions"]

    def result(model_name: str, input_tokens) -> dict:
        return {
            "object": stream.result_object,
            "model": model_name,
            "input_tokens": input_tokens,
            "output_tokens": 1,
            "num_model_requests": 1,
        }

    def write(*results) -> None:
        bucket = {"object": "bucket", "start_time": 0, "end_time": 3600, "results": results}
        write_page(model, stream, "1h", task.pk, task.connector_id, [bucket], 0, timezone.now())

    with pytest.raises(ContractError, match="input_tokens"):
        write(result("a", 5), result("b", 6), result("c", "lots"))
    assert not model.objects.filter(task=task).exists()
    write(result("a", 5), result("b", 7.0))  # JSON's 7.0 is the integer 7
    stored = dict(model.objects.filter(task=task).values_list("model", "inputTokens"))
    assert stored == {"a": 5, "b": 7}
