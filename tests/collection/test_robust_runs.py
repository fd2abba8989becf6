"""Runs that survive what real users meet: a stream OpenAI refuses, a hostile answer, a
worker thought dead, a long Retry-After, a long backfill, a lost database connection and
a broker that is down."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import override_settings

from connectors.collection import engine
from connectors.collection import queue as run_queue
from connectors.collection.recorder import Recorder
from connectors.models import USAGE_TABLES, ProjectEntry, RunStatus, StreamState, TaskRun
from connectors.openai.emulator import DEMO_NO_USAGE_KEY, FaultConfig, serve_in_thread
from connectors.openai.streams import STREAMS, UsageStream
from tests.collection.conftest import run_now, table_rows, truth_rows
from tests.collection.test_worker import wait_for
from tests.fixtures_emulator import EMULATOR_NOW
from tests.fixtures_worker import database_url

OPENAI_NOW = datetime.fromtimestamp(EMULATOR_NOW, UTC)
USAGE = [s.type for s in STREAMS.values() if isinstance(s, UsageStream)]
DIRECTORY = [s.type for s in STREAMS.values() if not isinstance(s, UsageStream)]


def day(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d")


def generic_task(make_task, start: datetime, **more):
    return make_task("generic", StartTime=day(start), BucketWidth="1d", **more)


def test_a_stream_openai_refuses_fails_alone_and_the_run_partly_succeeds(make_task):
    """A key without api.usage.read: every usage stream is refused (403), the directory
    streams are collected; the run says which failed and why, and no usage stream's
    high-water mark moves."""
    task = generic_task(make_task, OPENAI_NOW - timedelta(days=2))
    task.connector.set_admin_key(DEMO_NO_USAGE_KEY)
    task.connector.save()
    run = run_now(task)
    assert run.status == RunStatus.PARTIAL, run.error
    for kind in USAGE:
        assert run.streams[kind]["failed"], kind
        assert "api.usage.read" in run.streams[kind]["message"]
    for kind in DIRECTORY:
        assert run.streams[kind]["status"] == "done", (kind, run.streams[kind])
    assert ProjectEntry.objects.filter(connector=task.connector).exists()
    assert not StreamState.objects.filter(task=task).exists()
    assert "api.usage.read" in run.error and "failed" in run.error


def test_costs_refused_by_key_before_the_cutoff_fail_alone_in_a_generic_run(make_task, emulator):
    """OpenAI refuses costs grouped by api_key_id for days before 2025-12-06: a generic
    task saved before that rule existed loses its costs, with OpenAI's reason, and still
    collects every other stream."""
    task = make_task(
        "generic",
        StartTime="2025-11-20",
        EndTime="2025-11-27",
        BucketWidth="1d",
        GroupBy=["api_key_id"],
    )
    run = run_now(task)
    assert run.status == RunStatus.PARTIAL, run.error
    assert run.streams["costs"]["failed"]
    assert "2025-12-06" in run.streams["costs"]["message"]
    assert [k for k, v in run.streams.items() if v["failed"]] == ["costs"]
    for kind in ("completions", "embeddings", "images"):
        assert table_rows(task, kind) == truth_rows(emulator, task, kind), kind


class Hostile:
    """OpenAI's answers, except that one endpoint's first result carries a token count no
    bigint holds: stands in for an API that breaks its own contract."""

    def __init__(self, emulator, path: str) -> None:
        self.emulator, self.path = emulator, path

        async def app(scope, receive, send) -> None:  # a plain ASGI 3 function
            await self.serve(scope, receive, send)

        self.app = app

    async def serve(self, scope, receive, send) -> None:
        if scope["type"] != "http" or not scope["path"].endswith(self.path):
            await self.emulator.app(scope, receive, send)
            return
        sent: list[dict] = []

        async def keep(message) -> None:
            sent.append(message)

        await self.emulator.app(scope, receive, keep)
        start = next(m for m in sent if m["type"] == "http.response.start")
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        if start["status"] == 200:
            page = json.loads(body)
            for bucket in page["data"]:
                for result in bucket["results"]:
                    result["input_tokens"] = 2**70
            body = json.dumps(page).encode()
        headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def test_a_hostile_answer_fails_its_stream_in_words_and_the_others_are_collected(
    make_task, emulator
):
    with serve_in_thread(Hostile(emulator, "/usage/embeddings")) as server:
        task = generic_task(make_task, OPENAI_NOW - timedelta(days=3))
        task.connector.base_url = server.base_url
        task.connector.save()
        run = run_now(task)
    assert run.status == RunStatus.PARTIAL, run.error
    message = run.streams["embeddings"]["message"]
    assert "/organization/usage/embeddings" in message and "input_tokens" in message
    assert str(2**70) in message
    assert "internal error" not in run.error
    assert not USAGE_TABLES["embeddings"].objects.filter(task=task).exists()
    assert table_rows(task, "completions") == truth_rows(emulator, task, "completions")
    marks = set(StreamState.objects.filter(task=task).values_list("stream", flat=True))
    assert "completions" in marks and "embeddings" not in marks


def test_a_worker_whose_run_was_taken_over_writes_nothing_more(make_task, emulator):
    """The first worker was thought dead (its heartbeat late) and another claimed the run:
    the first worker's next page and its finish are refused by the lease."""
    task = make_task("completions", StartTime="2026-08-01", EndTime="2026-10-01", BucketWidth="1h")
    task.connector.directory_refreshed_at = datetime.now(UTC)  # no directory pages first
    task.connector.save()
    run = TaskRun.objects.create(task=task, trigger="manual")
    original = Recorder.page_done
    taken: list[TaskRun] = []

    def another_worker_claims_after_the_first_page(self, counts):
        original(self, counts)
        if not taken:
            with override_settings(RUN_STALE_AFTER_SECONDS=-1):
                taken.append(run_queue.claim(run.pk))

    pytest.MonkeyPatch.setattr(
        monkeypatch := pytest.MonkeyPatch(),
        Recorder,
        "page_done",
        another_worker_claims_after_the_first_page,
    )
    try:
        engine.run_execute(run.pk)
    finally:
        monkeypatch.undo()
    run.refresh_from_db()
    assert taken[0] is not None and run.lease == taken[0].lease
    assert run.status == RunStatus.RUNNING and run.finished_at is None
    assert run.pages == 1, run.log  # the first page only; the second rolled back
    first_page = run.checkpoint["completions"]["reached"]
    rows = USAGE_TABLES["completions"].objects.filter(task=task)
    assert not rows.filter(start_time__gte=first_page).exists()
    assert rows.exists()


# --- with a real worker --------------------------------------------------------------


def ended(run: TaskRun) -> bool:
    return not run.is_active


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_run_waiting_on_retry_after_beats_and_cancels_within_seconds(
    start_worker, make_task, emulator
):
    emulator.faults.configure(FaultConfig(rate_429=1.0, retry_after=60))
    task = make_task("completions", StartTime="2026-10-01", BucketWidth="1d")
    start_worker()
    run, _ = run_queue.run_enqueue(task, "manual")
    wait_for(run, lambda r: len(emulator.log.records) >= 1)
    beats = set()
    for _ in range(15):  # 1.5 s, waiting on a Retry-After of 60 s
        run.refresh_from_db()
        beats.add(run.heartbeat_at)
        time.sleep(0.1)
    assert len(beats) >= 3, "no heartbeat while waiting on Retry-After"
    asked = time.monotonic()
    run_queue.run_cancel(run)
    run = wait_for(run, ended, seconds=10)
    assert run.status == RunStatus.CANCELLED
    assert time.monotonic() - asked < 10
    assert len(emulator.log.records) == 1


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_long_minute_backfill_with_a_fresh_directory_goes_page_by_page(
    start_worker, make_task, emulator
):
    """The directory was just refreshed, so the run's first request is its first usage
    page: the windows are still one page each, pages are written as they come, and the
    heartbeat never stops."""
    emulator.faults.configure(FaultConfig(latency_ms=60))
    start = OPENAI_NOW - timedelta(days=12)
    task = make_task("completions", StartTime=day(start), BucketWidth="1m")
    task.connector.directory_refreshed_at = datetime.now(UTC)
    task.connector.save()
    start_worker()
    run, _ = run_queue.run_enqueue(task, "manual")
    pages_seen, beats = set(), []
    deadline = time.monotonic() + 600  # a dead worker fails the test instead of hanging it
    while not ended(run):
        assert time.monotonic() < deadline, f"run {run.pk} stuck: {run.status} {run.log[-3:]}"
        run.refresh_from_db()
        pages_seen.add(run.pages)
        beats.append((time.monotonic(), run.heartbeat_at))
        time.sleep(0.05)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.requests_planned >= 12
    written_while_running = {p for p in pages_seen if 0 < p < run.pages}
    assert len(written_while_running) >= 5, pages_seen
    one_page = 1440 * 60
    for record in emulator.log.records:
        if record.path.endswith("/usage/completions") and "end_time" in record.params:
            begin, end = int(record.params["start_time"][0]), int(record.params["end_time"][0])
            assert end - begin <= one_page, record.params
    assert table_rows(task, "completions") == truth_rows(emulator, task, "completions")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_lost_database_connection_resumes_the_run_from_its_checkpoint(
    start_worker, make_task, emulator
):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no server connection to lose")
    emulator.faults.configure(FaultConfig(latency_ms=80))
    task = make_task(
        "completions",
        StartTime="2026-03-01",
        EndTime="2026-10-01",
        BucketWidth="1h",
        GroupBy=["model"],
    )
    start_worker()
    run, _ = run_queue.run_enqueue(task, "manual")
    wait_for(run, lambda r: r.pages >= 2)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    run = wait_for(run, ended, seconds=120)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert any("Lost the database" in line for line in run.log), run.log
    truth = truth_rows(emulator, task, "completions")
    assert table_rows(task, "completions") == truth
    assert USAGE_TABLES["completions"].objects.filter(task=task).count() == len(truth)


RUN_NOW_WITH_THE_BROKER_DOWN = """
import django, json, sys
django.setup()
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from connectors.models import TaskRun
client = Client()
client.force_login(get_user_model().objects.get(username="ada"))
response = client.post(reverse("connectors:task-run", args=[int(sys.argv[1])]))
print(json.dumps({
    "status": response.status_code,
    "messages": [str(m) for m in get_messages(response.wsgi_request)],
}))
"""


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_run_now_with_the_broker_down_says_so_and_the_run_starts_once_it_is_back(
    start_worker, make_task, emulator, user, queue
):
    """The web process cannot reach Redis: Run now answers in words, the run stays queued
    without a message, and the beat tick's outbox sends it once Redis answers again."""
    import os
    import subprocess
    import sys

    task = make_task("costs", StartTime="2026-10-01", EndTime="2026-10-08")
    env = os.environ | {
        "DJANGO_SETTINGS_MODULE": "datahub.settings",
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": "redis://127.0.0.1:1/0",  # nothing listens there
        "ALLOWED_HOSTS": "testserver",
    }
    answer = subprocess.run(
        [sys.executable, "-c", RUN_NOW_WITH_THE_BROKER_DOWN, str(task.pk)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert answer.returncode == 0, answer.stderr[-2000:]
    said = json.loads(answer.stdout.strip().splitlines()[-1])
    assert said["status"] == 302
    assert any("cannot be reached" in m for m in said["messages"]), said
    run = TaskRun.objects.get(task=task)
    assert run.status == RunStatus.QUEUED and run.sent_at is None
    # Redis is back (this process's broker): the beat tick sends what never went.
    start_worker()
    assert run_queue.resend_queued(datetime.now(UTC) + timedelta(minutes=1)) == [run.pk]
    run = wait_for(run, ended)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert table_rows(task, "costs") == truth_rows(emulator, task, "costs")
    assert run_queue.resend_queued(datetime.now(UTC) + timedelta(hours=1)) == []
