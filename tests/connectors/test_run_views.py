"""Run pages: the run page and its live region, the progress fragment that polls until the
run ends, the task page's history, a task's full history, the Tasks area, and access."""

from __future__ import annotations

import json
import re
import zoneinfo
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from connectors.collection import queue, schedule
from connectors.models import Preference, RunStatus, RunTrigger, Task, TaskRun

ENDED = [RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED]


def make_run(task: Task, status: str = RunStatus.SUCCEEDED, **fields) -> TaskRun:
    """A run as the worker leaves it: started five minutes ago; ended ones took 125 s."""
    started = timezone.now() - timedelta(minutes=5)
    values = {
        "trigger": RunTrigger.MANUAL,
        "status": status,
        "started_at": None if status == RunStatus.QUEUED else started,
        "finished_at": started + timedelta(seconds=125) if status in ENDED else None,
        "requests_made": 12,
        "requests_planned": 40,
        "pages": 12,
        "rows_inserted": 1234,
        "rows_updated": 56,
        "rows_unchanged": 7,
        "log": ["10:00:00 Started (attempt 1).", "10:00:01 completions: from 2026-01-01 00:00"],
    }
    return TaskRun.objects.create(task=task, **(values | fields))


def run_url(run: TaskRun) -> str:
    return reverse("connectors:run-detail", args=[run.pk])


def progress_url(run: TaskRun) -> str:
    return reverse("connectors:run-progress", args=[run.pk])


def html_of(response) -> str:
    return response.content.decode()


# --- the run page ---------------------------------------------------------------------


def test_it_shows_a_running_run_with_a_progress_bar_endpoint_window_and_log(staff_client, task):
    run = make_run(
        task,
        RunStatus.RUNNING,
        current_stream="completions",
        window_start=datetime(2026, 1, 3, tzinfo=UTC),
        window_end=datetime(2026, 2, 1, tzinfo=UTC),
    )
    response = staff_client.get(run_url(run))
    assert response.status_code == 200
    html = html_of(response)
    assert f'max="{run.requests_planned}" value="{run.requests_made}"' in html
    assert f"{run.requests_made} of {run.requests_planned} requests" in html
    assert f"{100 * run.requests_made // run.requests_planned} %" in html
    assert "<code>/organization/usage/completions</code>" in html
    assert "window 2026-01-03 00:00 → 2026-02-01 00:00 (UTC)" in html
    for line in run.log:
        assert line in html
    assert f'hx-get="{run_url(run)}" hx-trigger="every 1s"' in html
    assert f'action="{reverse("connectors:run-cancel", args=[run.pk])}"' in html


def test_it_shows_the_stored_times_and_counts_of_a_finished_run(staff_client, task):
    run = make_run(task, RunStatus.SUCCEEDED, trigger=RunTrigger.SCHEDULE)
    html = html_of(staff_client.get(run_url(run)))
    assert "Succeeded" in html
    assert "Schedule" in html
    assert f"{run.started_at:%Y-%m-%d %H:%M:%S} UTC" in html
    assert f"{run.finished_at:%Y-%m-%d %H:%M:%S} UTC" in html
    assert "2 min 05 s" in html
    assert f"{run.requests_made} made of {run.requests_planned} planned" in html
    assert "1,234 inserted · 56 updated · 7 unchanged" in html  # thousands separated
    assert "hx-trigger" not in html
    assert "<progress" not in html
    assert "Cancel</button>" not in html


def test_it_shows_run_times_in_the_users_time_zone_and_names_it(staff_client, user, task):
    Preference.objects.create(user=user, time_zone="Asia/Kolkata")  # UTC+05:30
    run = make_run(task, RunStatus.SUCCEEDED, started_at=datetime(2026, 3, 1, 23, 50, tzinfo=UTC))
    urls = [
        run_url(run),
        reverse("connectors:task-detail", args=[task.pk]),
        reverse("connectors:task-runs", args=[task.pk]),
        reverse("connectors:task-list"),
    ]
    for url in urls:
        html = html_of(staff_client.get(url))
        assert "2026-03-02 05:20" in html, url
        assert "2026-03-01 23:50" not in html, url
        assert "Asia/Kolkata" in html, url
    fragment = html_of(
        staff_client.get(run_url(run), headers={"HX-Request": "true", "HX-Target": "run-live"})
    )
    assert "2026-03-02 05:20:00 Asia/Kolkata" in fragment


def test_it_shows_next_scheduled_runs_in_the_users_time_zone(staff_client, user, scheduled):
    Preference.objects.create(user=user, time_zone="Europe/Berlin")
    task = scheduled[0]
    first = schedule.upcoming(task, timezone.now())[0]
    berlin = first.astimezone(zoneinfo.ZoneInfo("Europe/Berlin"))
    for url in [reverse("connectors:task-list"), reverse("connectors:task-detail", args=[task.pk])]:
        html = html_of(staff_client.get(url))
        assert f"{berlin:%Y-%m-%d %H:%M}" in html, url
        assert "Europe/Berlin" in html, url


def test_it_numbers_runs_per_task_and_keeps_the_global_id_in_the_url(
    staff_client, task, scheduled, monkeypatch
):
    monkeypatch.setattr(queue, "send", lambda run_id: True)  # no broker here
    other = scheduled[0]
    runs = []
    for _ in range(3):
        runs.append(queue.run_enqueue(task, RunTrigger.MANUAL)[0])
        make_run(other)  # the other task's runs interleave: the ids are global
        TaskRun.objects.filter(task=task).update(status=RunStatus.SUCCEEDED)
    first, _, third = runs
    elsewhere = other.runs.order_by("id").first()
    assert (first.number, third.number, elsewhere.number) == (1, 3, 1)
    assert third.pk - first.pk == 4
    html = html_of(staff_client.get(run_url(third)))
    assert f"Run 3 of {task.display_name}" in html
    assert f"#{third.pk}" not in html
    history = html_of(staff_client.get(reverse("connectors:task-runs", args=[task.pk])))
    assert f'<a href="{run_url(third)}" aria-label="Run 3 of {task.display_name}">#3</a>' in history


def test_it_shows_counts_of_a_large_run_with_thousands_separators(staff_client, task):
    run = make_run(
        task, RunStatus.RUNNING, requests_made=13634, requests_planned=20000, rows_inserted=1234567
    )
    run_page = html_of(staff_client.get(run_url(run)))
    assert "13,634 of 20,000 requests · 68 %" in run_page
    assert "13,634 made of 20,000 planned" in run_page
    assert "1,234,567 inserted" in run_page
    task_page = html_of(staff_client.get(reverse("connectors:task-detail", args=[task.pk])))
    assert '<td class="num nowrap">13,634 of 20,000</td>' in task_page
    assert '<td class="num">1,234,567</td>' in task_page


def test_it_estimates_the_time_left_from_the_observed_pace(staff_client, task):
    # 60 requests in 1 min: 1 a second; 120 left take about 2 min.
    run = make_run(
        task,
        RunStatus.RUNNING,
        started_at=timezone.now() - timedelta(minutes=1),
        requests_made=60,
        requests_planned=180,
    )
    html = html_of(staff_client.get(run_url(run)))
    assert "about 2 min 00 s left" in html or "about 1 min 59 s left" in html


def test_it_estimates_the_time_left_from_the_connectors_limit_before_any_pace(staff_client, task):
    task.connector.requests_per_minute = 30
    task.connector.save()
    run = make_run(
        task, RunStatus.RUNNING, started_at=timezone.now(), requests_made=0, requests_planned=60
    )
    html = html_of(staff_client.get(run_url(run)))
    assert "about 2 min 00 s left" in html


def test_it_never_estimates_faster_than_the_connectors_limit(staff_client, task):
    task.connector.requests_per_minute = 10
    task.connector.save()
    # Observed 60 a minute (a burst), but the limit allows 10: 20 left take 2 min.
    run = make_run(
        task,
        RunStatus.RUNNING,
        started_at=timezone.now() - timedelta(minutes=1),
        requests_made=60,
        requests_planned=80,
    )
    html = html_of(staff_client.get(run_url(run)))
    assert "about 2 min 00 s left" in html


def test_it_shows_the_whole_error_of_a_failed_run_with_what_to_do(staff_client, task):
    error = (
        "OpenAI refused the admin key (401): it was revoked or mistyped. "
        + "Paste a current admin key on the connector. " * 6
    )
    run = make_run(task, RunStatus.FAILED, error=error.strip())
    html = html_of(staff_client.get(run_url(run)))
    assert "Why it failed" in html
    assert error.strip() in html
    assert "start the task again" in html
    assert reverse("connectors:connector-edit", args=[task.connector_id]) in html


def test_it_shows_a_queued_run_as_waiting_without_a_measured_bar(staff_client, task):
    run = make_run(task, RunStatus.QUEUED, requests_made=0, requests_planned=0)
    html = html_of(staff_client.get(run_url(run)))
    assert "Waiting for a worker to start it." in html
    assert re.search(r"<progress [^>]*>", html).group(0).count("value=") == 0
    assert 'hx-trigger="every 1s"' in html


def test_it_answers_the_run_page_live_region_as_a_fragment(staff_client, task):
    run = make_run(task, RunStatus.RUNNING)
    headers = {"HX-Request": "true", "HX-Target": "run-live"}
    response = staff_client.get(run_url(run), headers=headers)
    assert response.status_code == 200
    html = html_of(response)
    assert html.lstrip().startswith('<div id="run-live"')
    assert "<html" not in html
    assert 'hx-trigger="every 1s"' in html

    TaskRun.objects.filter(pk=run.pk).update(status=RunStatus.SUCCEEDED, finished_at=timezone.now())
    response = staff_client.get(run_url(run), headers=headers)
    assert response.status_code == 286
    assert "hx-trigger" not in html_of(response)
    assert "Succeeded" in html_of(response)


def test_it_answers_404_for_a_run_that_does_not_exist(staff_client, db):
    assert staff_client.get(reverse("connectors:run-detail", args=[999999])).status_code == 404


# --- the progress fragment ------------------------------------------------------------


def test_it_answers_the_progress_fragment_of_a_running_run_and_keeps_polling(staff_client, task):
    run = make_run(task, RunStatus.RUNNING, current_stream="costs")
    response = staff_client.get(progress_url(run), headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = html_of(response)
    assert html.lstrip().startswith(f'<div class="runprogress" id="run-{run.pk}-progress"')
    assert "<html" not in html
    assert f'hx-get="{progress_url(run)}" hx-trigger="every 1s" hx-swap="outerHTML"' in html
    assert f'max="{run.requests_planned}" value="{run.requests_made}"' in html
    assert "<code>/organization/costs</code>" in html
    assert "1,234 inserted · 56 updated" in html
    assert 'aria-live="polite"' in html


@pytest.mark.parametrize("status", ENDED)
def test_it_stops_polling_with_the_final_state_once_the_run_ends(staff_client, task, status):
    run = make_run(task, RunStatus.RUNNING)
    assert staff_client.get(progress_url(run)).status_code == 200
    TaskRun.objects.filter(pk=run.pk).update(status=status, finished_at=timezone.now())

    response = staff_client.get(progress_url(run), headers={"HX-Request": "true"})
    assert response.status_code == 286
    assert "run-finished" in json.loads(response["HX-Trigger"])
    html = html_of(response)
    assert RunStatus(status).label in html
    assert "hx-trigger" not in html
    assert "<progress" not in html


def test_it_shows_a_failed_runs_message_in_the_progress_fragment(staff_client, task):
    run = make_run(task, RunStatus.FAILED, error="The API base URL does not answer.")
    html = html_of(staff_client.get(progress_url(run)))
    assert '<p class="small error">The API base URL does not answer.</p>' in html


# --- the task page and a task's full history ------------------------------------------


def test_it_shows_active_runs_progress_and_the_history_on_the_task_page(staff_client, task):
    finished = make_run(task, RunStatus.FAILED, error="Rate limited for too long.")
    running = make_run(task, RunStatus.RUNNING, rows_inserted=99, rows_updated=3)
    html = html_of(staff_client.get(reverse("connectors:task-detail", args=[task.pk])))
    # The whole history section polls, so the bar and the rows come from one answer.
    history_url = reverse("connectors:task-runs", args=[task.pk])
    assert f'id="task-history" hx-get="{history_url}" hx-trigger="every 1s"' in html
    assert f"run-{running.pk}-progress" in html
    assert f'href="{run_url(finished)}"' in html
    assert "Rate limited for too long." in html
    assert '<td class="num">99</td>' in html
    assert '<td class="num">3</td>' in html
    assert "Started (UTC)" in html
    assert f'href="{history_url}">All 2 runs' in html


def test_it_answers_the_polled_history_with_bar_and_row_reading_the_same_figures(
    staff_client, task
):
    run = make_run(task, RunStatus.RUNNING, requests_made=11, requests_planned=19)
    url = reverse("connectors:task-runs", args=[task.pk])
    headers = {"HX-Request": "true", "HX-Target": "task-history"}
    response = staff_client.get(url, headers=headers)
    html = html_of(response)
    assert html.lstrip().startswith('<section class="card" id="task-history"')
    assert 'hx-trigger="every 1s"' in html
    assert "11 of 19 requests · 57 %" in html
    assert '<td class="num nowrap">11 of 19</td>' in html
    assert "HX-Trigger" not in response

    TaskRun.objects.filter(pk=run.pk).update(
        status=RunStatus.SUCCEEDED, finished_at=timezone.now(), requests_made=19
    )
    response = staff_client.get(url, headers=headers)
    html = html_of(response)
    assert "hx-trigger" not in html  # polling stops
    assert "<progress" not in html
    assert '<td class="num nowrap">19</td>' in html
    event = json.loads(response["HX-Trigger"])["run-finished"]
    assert event == {
        "outcome": f"Run 1 of “{task.display_name}” succeeded.",
        "status": "succeeded",
    }


def test_it_does_not_poll_the_history_of_a_task_with_no_active_run(staff_client, task):
    make_run(task, RunStatus.SUCCEEDED)
    html = html_of(staff_client.get(reverse("connectors:task-detail", args=[task.pk])))
    assert 'id="task-history" hx-disinherit="*"' in html


def test_it_caps_the_task_page_history_and_links_the_full_history(staff_client, task):
    runs = [make_run(task) for _ in range(23)]
    html = html_of(staff_client.get(reverse("connectors:task-detail", args=[task.pk])))
    shown = set(re.findall(r'href="/runs/(\d+)/"', html))
    assert shown == {str(run.pk) for run in runs[-20:]}
    assert "The last 20 of 23 runs." in html


def test_it_pages_through_a_tasks_full_history_newest_first(staff_client, task):
    runs = [make_run(task, rows_inserted=n) for n in range(55)]
    url = reverse("connectors:task-runs", args=[task.pk])
    first = html_of(staff_client.get(url))
    second = html_of(staff_client.get(url, {"page": 2}))
    first_ids = [int(pk) for pk in re.findall(r'href="/runs/(\d+)/"', first)]
    second_ids = [int(pk) for pk in re.findall(r'href="/runs/(\d+)/"', second)]
    newest_first = [run.pk for run in reversed(runs)]
    assert first_ids == newest_first[:50]
    assert second_ids == newest_first[50:]
    assert "Runs 1–50 of 55" in first
    assert 'href="?page=2"' in first


# --- the Tasks area ---------------------------------------------------------------------


@pytest.fixture
def scheduled(connector) -> list[Task]:
    """Two daily tasks, three hours apart, so their upcoming runs interleave."""
    return [
        Task.objects.create(
            connector=connector,
            name=name,
            query_type="costs",
            parameters={"type": "costs"},
            schedule_enabled=True,
            schedule_start=datetime(2099, 1, 1, hour, tzinfo=UTC),
            interval_unit="daily",
        )
        for name, hour in (("Costs at six", 6), ("Costs at three", 3))
    ]


def test_it_shows_the_task_tree_with_last_and_next_runs(staff_client, task, scheduled):
    last = make_run(scheduled[0], RunStatus.FAILED, error="Key revoked.")
    html = html_of(staff_client.get(reverse("connectors:task-list")))
    assert html.index("Acme org") < html.index(task.display_name) < html.index("Costs at six")
    row = html[html.index("Costs at six") :]
    row = row[: row.index("</tr>")]
    assert f'href="{run_url(last)}"' in row
    assert "Failed" in row
    assert f"{last.started_at:%Y-%m-%d %H:%M}" in row
    assert "2099-01-01 06:00" in row
    task_row = html[html.index(task.display_name) :]
    assert "never run" in task_row[: task_row.index("</tr>")]
    assert "by hand" in task_row[: task_row.index("</tr>")]


def test_it_merges_upcoming_runs_of_all_tasks_in_time_order(staff_client, scheduled):
    html = html_of(staff_client.get(reverse("connectors:task-list")))
    upcoming = html[html.index("<h2>Upcoming</h2>") :]
    now = timezone.now()
    expected = sorted(
        (when, task.display_name) for task in scheduled for when in schedule.upcoming(task, now, 3)
    )
    cells = re.findall(
        r"<td>\w{3} (\d{4}-\d\d-\d\d \d\d:\d\d)</td><td><a [^>]*>([^<]+)</a>", upcoming
    )
    assert cells == [(f"{when:%Y-%m-%d %H:%M}", name) for when, name in expected]


def test_it_lists_recent_runs_across_all_tasks(staff_client, task, scheduled):
    runs = [make_run(t, rows_inserted=10 * n) for n, t in enumerate([task, *scheduled])]
    html = html_of(staff_client.get(reverse("connectors:task-list")))
    history = html[html.index("<h2>History</h2>") :]
    ids = [int(pk) for pk in re.findall(r'href="/runs/(\d+)/"', history)]
    assert ids == [run.pk for run in reversed(runs)]
    for run in runs:
        assert run.task.display_name in history


def test_it_links_the_tasks_area_in_the_navigation(staff_client, db):
    html = html_of(staff_client.get(reverse("connectors:task-list")))
    assert f'<a href="{reverse("connectors:task-list")}" aria-current="page">Tasks</a>' in html


# --- access -------------------------------------------------------------------------------


def page_urls(task: Task, run: TaskRun) -> list[str]:
    return [
        reverse("connectors:task-list"),
        reverse("connectors:task-runs", args=[task.pk]),
        reverse("connectors:task-detail", args=[task.pk]),
        run_url(run),
        progress_url(run),
    ]


def test_it_sends_anonymous_users_to_the_login_page(task):
    run = make_run(task, RunStatus.RUNNING)
    client = Client()
    for url in [*page_urls(task, run), reverse("connectors:run-cancel", args=[run.pk])]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith(reverse("login")), url


def test_it_lets_viewers_see_every_page_without_buttons(viewer_client, task):
    run = make_run(task, RunStatus.RUNNING)
    for url in page_urls(task, run):
        response = viewer_client.get(url)
        assert response.status_code == 200, url
        html = html_of(response)
        assert "Cancel</button>" not in html, url
        assert "Run now</button>" not in html, url
        assert reverse("connectors:run-cancel", args=[run.pk]) not in html, url


def test_it_forbids_viewers_to_cancel(viewer_client, task):
    run = make_run(task, RunStatus.RUNNING)
    url = reverse("connectors:run-cancel", args=[run.pk])
    assert viewer_client.post(url).status_code == 403
    assert viewer_client.post(url, headers={"HX-Request": "true"}).status_code == 403
    run.refresh_from_db()
    assert run.cancel_requested is False
    assert run.status == RunStatus.RUNNING


def test_it_lets_staff_cancel_a_running_run_after_its_current_page(staff_client, task):
    run = make_run(task, RunStatus.RUNNING)
    response = staff_client.post(reverse("connectors:run-cancel", args=[run.pk]), follow=True)
    assert response.redirect_chain == [(run_url(run), 302)]
    assert "Cancel requested: the run stops within seconds." in html_of(response)
    assert "Cancel requested: stops within seconds." in html_of(response)
    run.refresh_from_db()
    assert run.cancel_requested is True
    assert run.status == RunStatus.RUNNING


def test_it_lets_staff_cancel_a_queued_run_at_once(staff_client, task):
    run = make_run(task, RunStatus.QUEUED)
    response = staff_client.post(reverse("connectors:run-cancel", args=[run.pk]))
    assert response.url == run_url(run)
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED
