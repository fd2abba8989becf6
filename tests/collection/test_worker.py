"""End to end through real Celery worker processes, on Redis and Postgres or on the
embedded default (the filesystem broker and SQLite)."""

from __future__ import annotations

import base64
import json
import os
import signal
import time
from pathlib import Path

import pytest
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from connectors.collection import queue as run_queue
from connectors.models import USAGE_TABLES, RunStatus, TaskRun
from connectors.openai.emulator import DEMO_ADMIN_KEY, FaultConfig
from tests.collection.conftest import table_rows, truth_rows
from tests.fixtures_worker import queued_messages

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def wait_for(run: TaskRun, condition, seconds: float = 90) -> TaskRun:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if condition(run):
            return run
        time.sleep(0.2)
    raise AssertionError(f"run {run.pk} stuck: {run.status} {run.log[-3:]}")


def finished(run: TaskRun) -> bool:
    return run.status in (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)


def test_it_runs_a_task_from_run_now_on_a_real_worker(
    start_worker, make_task, emulator, django_user_model
):
    task = make_task(
        "completions",
        StartTime="2026-10-01",
        EndTime="2026-10-15",
        BucketWidth="1h",
        GroupBy=["project_id", "model"],
    )
    staff = django_user_model.objects.create_user("ada", password="x", is_staff=True)
    client = Client()
    client.force_login(staff)
    start_worker()
    response = client.post(reverse("connectors:task-run", args=[task.pk]))
    assert response.status_code == 302
    run = wait_for(TaskRun.objects.get(task=task), finished)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert table_rows(task, "completions") == truth_rows(emulator, task, "completions")
    page = client.get(reverse("connectors:task-detail", args=[task.pk])).content.decode()
    assert "Succeeded" in page


def test_it_puts_only_ids_on_the_queue(queue, make_task):
    task = make_task("costs", StartTime="2026-10-01")
    with_commit = run_queue.run_enqueue(task, "manual")[0]
    raw = queued_messages(queue)
    assert len(raw) == 1
    body = base64.b64decode(json.loads(raw[0])["body"])
    assert json.loads(body)[0] == [with_commit.pk]
    assert DEMO_ADMIN_KEY.encode() not in raw[0] + body


def test_it_resumes_a_run_after_its_worker_is_killed(start_worker, make_task, emulator):
    emulator.faults.configure(FaultConfig(latency_ms=120))
    task = make_task(
        "completions",
        StartTime="2026-06-01",
        EndTime="2026-10-01",
        BucketWidth="1h",
        GroupBy=["model"],
    )
    task.connector.directory_refreshed_at = timezone.now()
    task.connector.save()
    worker = start_worker()
    run, _ = run_queue.run_enqueue(task, "manual")
    wait_for(run, lambda r: r.pages >= 3)
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(10)
    # The heartbeat goes stale (RUN_STALE_AFTER_SECONDS=1 in the workers). Meanwhile a
    # COMMIT the worker sent just before it died lands: Postgres finishes a transaction
    # whose COMMIT it received, so the checkpoint is read only after the wait.
    time.sleep(1.5)
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING
    committed = run.pages
    reached = run.checkpoint["completions"]["reached"]
    before = len(emulator.log.records)  # the killed worker's requests, answered or not
    start_worker()
    with override_settings(RUN_STALE_AFTER_SECONDS=1):
        assert run_queue.reclaim_stale() == [run.pk]
    run = wait_for(run, finished)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.attempts == 2 and run.pages > committed
    # The second worker starts at the checkpoint, not at START TIME again.
    resumed = [int(r.params["start_time"][0]) for r in emulator.log.records[before:]]
    assert min(resumed) == int(timezone.datetime.fromisoformat(reached).timestamp())
    assert table_rows(task, "completions") == truth_rows(emulator, task, "completions")
    assert USAGE_TABLES["completions"].objects.filter(task=task).count() == len(
        truth_rows(emulator, task, "completions")
    )
