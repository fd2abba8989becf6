"""A FinOps analyst in Berlin starts a long run of a task and watches it, with a real
Celery worker collecting from the emulator at a realistic latency: the progress block and
the history row read the same figures while it moves, the run is numbered within its
task, every time is Berlin time and says so, and the "Run queued" banner turns into the
outcome when the run ends."""

from __future__ import annotations

import re
import zoneinfo
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from connectors.models import Connector, Preference, RunStatus, RunTrigger, Task, TaskRun
from connectors.openai.emulator import DEMO_ADMIN_KEY, FaultConfig

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
FIGURES = re.compile(r"^(\d[\d,]*) of (\d[\d,]*) requests · (\d+) %$")

READ_BOTH = """() => {
  const bar = document.querySelector("#task-history .runprogress .runcount");
  const row = document.querySelector("#task-history tr[id^=run-row-] td.num");
  return bar && row ? [bar.textContent.trim(), row.textContent.trim()] : null;
}"""


def number(text: str) -> int:
    return int(text.replace(",", ""))


@pytest.fixture
def daily(emulator_server, emulator) -> Task:
    emulator.faults.configure(FaultConfig(latency_ms=150))
    connector = Connector(
        kind="openai", name="Acme org", base_url=emulator_server.base_url, requests_per_minute=0
    )
    connector.set_admin_key(DEMO_ADMIN_KEY)
    connector.save()
    other = Task.objects.create(
        connector=connector,
        name="Monthly costs",
        query_type="costs",
        parameters={"type": "costs", "costs-StartTime": "2026-10-01"},
    )
    task = Task.objects.create(
        connector=connector,
        name="Daily completions",
        query_type="completions",
        parameters={
            "type": "completions",
            "completions-StartTime": "2026-06-01",
            "completions-EndTime": "2026-10-01",
            "completions-BucketWidth": "1h",
        },
        schedule_enabled=True,
        schedule_start=datetime(2030, 1, 1, 5, tzinfo=UTC),
        interval_unit="daily",
    )
    ended = timezone.now() - timedelta(days=1)
    for owner in (other, task, other):  # run ids are global: the task's runs are not 1, 2
        TaskRun.objects.create(
            task=owner,
            trigger=RunTrigger.SCHEDULE,
            status=RunStatus.SUCCEEDED,
            started_at=ended - timedelta(minutes=1),
            finished_at=ended,
        )
    return task


def test_it_shows_a_long_run_moving_with_bar_and_history_agreeing(
    page, live_server, admin_login, django_user_model, daily, start_worker, shot
):
    Preference.objects.create(user=django_user_model.objects.get(), time_zone="Europe/Berlin")
    admin_login()
    start_worker()
    page.goto(f"{live_server.url}/tasks/{daily.pk}/")
    page.click("button:has-text('Run now')")
    page.wait_for_selector(".msg[data-run-queued]:has-text('Run queued for “Daily completions”')")
    run = TaskRun.objects.get(task=daily, number=2)
    assert f"/runs/{run.pk}/" != "/runs/2/"

    # While it runs, the bar and the history row come from one answer: the same figures.
    seen: list[tuple[int, int]] = []
    for _ in range(1200):
        both = page.evaluate(READ_BOTH)  # both read at one moment, between two swaps
        if both is None and seen:
            break  # the progress block is gone: the run has ended
        match = FIGURES.match(both[0]) if both else None  # queued: no figures yet
        if match:
            made, planned = number(match[1]), number(match[2])
            assert both[1] == f"{match[1]} of {match[2]}", both
            assert int(match[3]) == made * 100 // planned
            if not seen:
                shot("1-running")
                # Planned before the first request (the engine saves it): the whole range.
                assert planned >= 18, both
            if (made, planned) not in seen:
                seen.append((made, planned))
        page.wait_for_timeout(100)
    assert len({made for made, _ in seen}) >= 3, seen  # it moved, more than once

    # The banner turns into the outcome; the history row keeps the final count.
    banner = page.locator(".msg:has-text('Run 2 of “Daily completions” succeeded.')")
    banner.wait_for()
    assert page.locator(".msg[data-run-queued]").count() == 0
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.requests_made == run.requests_planned
    row = page.locator(f"#run-row-{run.pk}")
    assert row.locator("td").first.inner_text() == "#2"
    assert row.locator("td.num").first.inner_text() == f"{run.requests_made:,}"
    assert page.locator("#task-history progress").count() == 0
    started = run.started_at.astimezone(BERLIN)
    assert started.strftime("%Y-%m-%d %H:%M:%S") in row.inner_text()
    assert page.locator("#task-history th:has-text('Started (Europe/Berlin)')").count() == 1
    assert (
        page.locator(".upcoming li", has_text="Europe/Berlin")
        .first.inner_text()
        .startswith(
            datetime(2030, 1, 1, 5, tzinfo=UTC).astimezone(BERLIN).strftime("%a %Y-%m-%d 06:00")
        )
    )
    shot("2-succeeded")

    page.click(f"#run-row-{run.pk} a[href='/runs/{run.pk}/']")
    page.wait_for_url(f"{live_server.url}/runs/{run.pk}/")
    assert page.locator("h1").inner_text().startswith("Run 2 of Daily completions")
    facts = page.locator("dl.facts").inner_text()
    assert f"{started:%Y-%m-%d %H:%M:%S} Europe/Berlin" in facts
    finished = run.finished_at.astimezone(BERLIN)
    assert f"{finished:%Y-%m-%d %H:%M:%S} Europe/Berlin" in facts
    assert f"{run.requests_made:,} made of {run.requests_planned:,} planned" in facts
    shot("3-run-page")

    page.click("nav.mainnav >> text=Tasks")
    tree = page.locator(".tasktree")
    assert tree.locator("th:has-text('Last run started (Europe/Berlin)')").count() == 1
    assert tree.locator("th:has-text('Next scheduled run (Europe/Berlin)')").count() == 1
    assert tree.locator(f"td:has-text('{started:%Y-%m-%d %H:%M}')").count() == 1
    assert tree.locator("td:has-text('2030-01-01 06:00')").count() == 1  # 05:00 UTC
    history = page.locator(f"a[href='/runs/{run.pk}/'][aria-label]")
    assert history.inner_text() == "#2"
    assert history.get_attribute("aria-label") == "Run 2 of Daily completions"
    shot("4-tasks")
