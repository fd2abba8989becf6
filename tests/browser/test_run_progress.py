"""Watching a run in a real browser: the progress bar moves while the worker records
progress, and polling stops on the final state, on the run page and on the task page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db.models import F
from django.utils import timezone

from connectors.models import Connector, RunStatus, RunTrigger, Task, TaskRun

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def running() -> TaskRun:
    connector = Connector(kind="openai", name="Acme org", base_url="http://127.0.0.1:9/v1")
    connector.set_admin_key("sk-admin-browser-fixture-key-abcd")
    connector.save()
    task = Task.objects.create(
        connector=connector,
        name="Daily completions",
        query_type="completions",
        parameters={"type": "completions", "completions-StartTime": "2026-01-01"},
        schedule_enabled=True,
        schedule_start=datetime(2030, 1, 1, 6, tzinfo=UTC),
        interval_unit="hours",
        interval_every=6,
    )
    TaskRun.objects.create(
        task=task,
        trigger=RunTrigger.SCHEDULE,
        status=RunStatus.FAILED,
        started_at=timezone.now() - timedelta(hours=1),
        finished_at=timezone.now() - timedelta(minutes=58),
        requests_made=3,
        error="OpenAI refused the admin key (401): paste a current admin key.",
    )
    run = TaskRun.objects.create(
        task=task,
        trigger=RunTrigger.MANUAL,
        status=RunStatus.RUNNING,
        started_at=timezone.now() - timedelta(seconds=42),
        heartbeat_at=timezone.now(),
        requests_made=10,
        requests_planned=40,
        pages=10,
        rows_inserted=250,
        current_stream="completions",
        window_start=datetime(2026, 1, 11, tzinfo=UTC),
        log=["10:00:00 Started (attempt 1).", "10:00:00 completions: from 2026-01-01 00:00"],
    )
    # queued_at is set on creation; put it before the start, as a worker would.
    TaskRun.objects.filter(task=task).update(queued_at=F("started_at") - timedelta(seconds=1))
    run.refresh_from_db()
    return run


def record_progress(run: TaskRun, **fields) -> None:
    TaskRun.objects.filter(pk=run.pk).update(**fields)


def test_it_shows_a_run_progressing_and_then_succeeding(
    page, live_server, admin_login, running, shot
):
    admin_login()
    page.goto(f"{live_server.url}/runs/{running.pk}/")
    bar = page.locator("#run-live progress.runbar")
    assert bar.get_attribute("value") == "10"
    assert bar.get_attribute("max") == "40"
    page.wait_for_selector("text=10 of 40 requests · 25 %")
    shot("1-running")

    record_progress(
        running,
        requests_made=30,
        rows_inserted=800,
        log=[*running.log, "10:00:05 Rate limited: retrying in 2.0 s."],
    )
    page.wait_for_selector("text=30 of 40 requests · 75 %")
    page.wait_for_selector("text=Rate limited: retrying in 2.0 s.")
    assert page.locator("#run-live progress.runbar").get_attribute("value") == "30"

    record_progress(
        running,
        status=RunStatus.SUCCEEDED,
        finished_at=timezone.now(),
        requests_made=40,
        rows_inserted=1000,
    )
    page.wait_for_selector("#run-live .badge.ok:has-text('Succeeded')")
    assert page.locator("#run-live").get_attribute("hx-trigger") is None
    assert page.locator("progress").count() == 0
    assert page.locator("text=40 made of 40 planned").count() == 1
    shot("2-succeeded")

    page.click("nav.mainnav >> text=Tasks")
    page.wait_for_selector("h2:has-text('Tasks by connector')")
    last_run = page.locator(f".tasktree a[href='/runs/{running.pk}/']")
    assert last_run.locator(".badge").inner_text() == "Succeeded"
    assert last_run.get_attribute("href") == f"/runs/{running.pk}/"
    assert page.locator(".tasktree td:has-text('2030-01-01 06:00')").count() == 1
    shot("3-tasks-area")


def test_it_shows_progress_on_the_task_page_until_the_run_ends(
    page, live_server, admin_login, running, shot
):
    admin_login()
    page.goto(f"{live_server.url}/tasks/{running.task_id}/")
    block = page.locator(f"#run-{running.pk}-progress")
    block.locator("text=10 of 40 requests").wait_for()
    assert block.locator("button:has-text('Cancel')").count() == 1
    row = page.locator(f"#run-row-{running.pk}")
    assert row.locator("td.num").first.inner_text() == "10 of 40"
    assert block.get_attribute("aria-live") == "polite"
    shot("1-task-page-running")

    record_progress(running, requests_made=20)
    block.locator("text=20 of 40 requests").wait_for()
    assert row.locator("td.num").first.inner_text() == "20 of 40"  # the same answer

    record_progress(running, status=RunStatus.FAILED, finished_at=timezone.now(), error="Boom.")
    # The ended run fires run-finished: the history reloads without a progress block.
    page.locator(f"#run-{running.pk}-progress").wait_for(state="detached")
    page.wait_for_selector("#task-history td:has-text('Boom.')")
    assert page.locator("#task-history progress").count() == 0
    shot("2-task-page-ended")

    page.click(f"#task-history a[href='/runs/{running.pk}/']")
    page.wait_for_selector("text=Why it failed")
    shot("3-failed-run")
