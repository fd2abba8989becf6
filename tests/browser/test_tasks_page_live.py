"""A FinOps analyst keeps the Tasks page open while a run is queued: a real Celery worker
collects from the emulator at a realistic latency, and the task's row goes from Queued to
Running (with its request count) to Succeeded without a reload; then the page stops
polling."""

from __future__ import annotations

import re

import pytest

from connectors.collection import queue
from connectors.models import Connector, RunStatus, RunTrigger, Task, TaskRun
from connectors.openai.emulator import DEMO_ADMIN_KEY, FaultConfig

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def hourly(emulator_server, emulator) -> Task:
    emulator.faults.configure(FaultConfig(latency_ms=300))  # slow enough to watch it run
    connector = Connector(
        kind="openai", name="Acme org", base_url=emulator_server.base_url, requests_per_minute=0
    )
    connector.set_admin_key(DEMO_ADMIN_KEY)
    connector.save()
    Task.objects.create(
        connector=connector,
        name="Monthly costs",
        query_type="costs",
        parameters={"type": "costs", "costs-StartTime": "2026-10-01"},
    )
    return Task.objects.create(
        connector=connector,
        name="Hourly completions",
        query_type="completions",
        parameters={
            "type": "completions",
            "completions-StartTime": "2026-01-01",
            "completions-EndTime": "2026-10-01",
            "completions-BucketWidth": "1h",
        },
    )


def test_it_updates_a_running_tasks_row_on_the_tasks_page_until_it_succeeds(
    page, live_server, admin_login, hourly, start_worker, emulator, shot
):
    run, refused = queue.run_enqueue(hourly, RunTrigger.MANUAL)  # no worker yet: queued
    assert run is not None and not refused

    admin_login()
    page.goto(f"{live_server.url}/tasks/")
    live = page.locator("#tasks-live")
    assert live.get_attribute("aria-live") == "polite"
    assert live.get_attribute("hx-trigger") == "every 2s"
    row = page.locator(".tasktree tr", has=page.locator("a", has_text="Hourly completions"))
    assert row.locator(".badge").inner_text() == "Queued"
    idle = page.locator(".tasktree tr", has=page.locator("a", has_text="Monthly costs"))
    assert "never run" in idle.inner_text()
    page.evaluate("window.stillTheSamePage = true")  # gone if the page were reloaded
    shot("1-queued")

    start_worker()
    row.locator(".badge:text-is('Running')").wait_for(timeout=60_000)
    counted = row.locator("span.small", has_text=re.compile(r"^\d+ of \d+ requests$"))
    counted.wait_for()
    history = page.locator(f"#run-row-{run.pk}")
    assert history.locator(".badge").inner_text() in ("Running", "Succeeded")
    shot("2-running")

    row.locator(".badge:text-is('Succeeded')").wait_for(timeout=90_000)
    assert page.evaluate("window.stillTheSamePage") is True
    assert counted.count() == 0  # the count is shown while it runs
    requests = len(emulator.log.records)  # every request the emulator answered
    history.locator(".badge:text-is('Succeeded')").wait_for()
    assert history.locator("td.num").first.inner_text() == f"{requests:,}"
    assert page.locator("#tasks-live").get_attribute("hx-trigger") is None  # polling stopped
    assert page.locator("#tasks-live").get_attribute("aria-live") == "polite"
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.requests_made == requests
    assert TaskRun.objects.count() == 1
    shot("3-succeeded")
