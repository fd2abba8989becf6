"""Several tasks on one connector, as people set them up: a costs task, an `all` task and
a second costs task over the same days. Every figure counts each day once, equal to the
emulator's ground truth; a task whose grouping changes never mixes its old rows in; the
demo's Overview compares only days both months have collected."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.urls import reverse

from connectors.explore import overview, planner
from connectors.models import USAGE_TABLES, Connector, Task, TaskRun
from connectors.openai.emulator import DEFAULT_SEED, Emulator, serve_in_thread
from connectors.openai.emulator.truth import totals as truth_totals
from connectors.openai.streams import STREAMS, USAGE_STREAMS
from connectors.setup.demo import demo_setup, demo_start
from tests.collection.conftest import epoch, run_now

SEPTEMBER, OCTOBER, NOVEMBER = epoch("2026-09-01"), epoch("2026-10-01"), epoch("2026-11-01")


def money(value: Decimal) -> str:
    return f"${value.quantize(Decimal('0.01'), ROUND_HALF_UP):,}"


def spend(emulator, start: int, end: int) -> Decimal:
    buckets = emulator.ground_truth("costs", start=start, end=end, bucket_width="1d")
    return Decimal(truth_totals(buckets).get("amount.value", 0))


def all_task(connector: Connector, start: str) -> Task:
    """An `all` task: every usage section from `start`, each grouped by its first
    dimension (costs by project)."""
    params: dict = {"type": "all", "projects-IncludeArchived": True}
    for stream in USAGE_STREAMS:
        params |= {
            f"{stream.type}-StartTime": start,
            f"{stream.type}-EndTime": "2026-11-01",
            f"{stream.type}-BucketWidth": "1d",
            f"{stream.type}-GroupBy": [stream.group_by[0]],
        }
    return Task.objects.create(connector=connector, query_type="all", parameters=params)


@pytest.fixture
def three_tasks(make_task, live_connector):
    """Costs from September by project and line item, an `all` task over October and a
    second costs task over the second half of October, ungrouped: all run."""
    tasks = [
        make_task("costs", StartTime="2026-09-01", GroupBy=["project_id", "line_item"]),
        all_task(live_connector, "2026-10-01"),
        make_task("costs", StartTime="2026-10-15", EndTime="2026-11-01"),
    ]
    for task in tasks:
        run = run_now(task)
        assert run.status == "succeeded", run.error
    return tasks


def test_it_shows_the_spend_of_overlapping_costs_tasks_once(viewer_client, three_tasks, emulator):
    connector = three_tasks[0].connector
    url = reverse("connectors:connector-overview", args=[connector.pk])
    html = viewer_client.get(url, {"month": "2026-10"}).content.decode()
    october, september = spend(emulator, OCTOBER, NOVEMBER), spend(emulator, SEPTEMBER, OCTOBER)
    stored = USAGE_TABLES["costs"].objects.filter(connector=connector, start_time__gte=OCTOBER_AT)
    assert sum(r.amountValue for r in stored) > october  # three tasks hold October's rows
    assert f'id="spend-this">{money(october)}</p>' in html
    assert f'id="spend-last">{money(september)}</p>' in html
    change = ((october - september) / september * 100).quantize(Decimal("0.1"), ROUND_HALF_UP)
    assert f"{'+' if change > 0 else ''}{change} %" in html
    assert "Spend from task" in html and three_tasks[0].display_name in html


OCTOBER_AT = datetime(2026, 10, 1, tzinfo=UTC)


def test_it_counts_each_day_of_a_table_once(viewer_client, three_tasks, emulator):
    connector = three_tasks[0].connector
    url = reverse("connectors:table-detail", args=[connector.pk, "costs"])
    html = viewer_client.get(url, {"preset": "custom", "start": "2026-10-01"}).content.decode()
    totals = html.split('<tr class="totals">')[1].split("</tr>")[0]
    expected = spend(emulator, OCTOBER, NOVEMBER).normalize()
    assert f'<td class="num" title="{expected:f}">' in totals
    # By project: the costs task and the `all` task can answer, the ungrouped one cannot.
    project = emulator.directory_truth()["projects"][0]["id"]
    html = viewer_client.get(url, {"preset": "all", "project": project}).content.decode()
    buckets = emulator.ground_truth(
        "costs",
        start=SEPTEMBER,
        end=NOVEMBER,
        bucket_width="1d",
        filters={"project_ids": [project]},
    )
    expected = Decimal(truth_totals(buckets).get("amount.value", 0)).normalize()
    totals = html.split('<tr class="totals">')[1].split("</tr>")[0]
    assert f'<td class="num" title="{expected:f}">' in totals


def test_it_says_which_task_would_answer_what_none_can(viewer_client, three_tasks):
    connector = three_tasks[0].connector
    url = reverse("connectors:table-detail", args=[connector.pk, "completions"])
    # Completions by model: the `all` task groups completions by project only.
    html = viewer_client.get(url, {"preset": "all", "model": "gpt-4o"}).content.decode()
    assert '<tr class="totals">' not in html
    assert "No task collects completions grouped by model" in html
    assert "A completions task with GROUP BY model" in html
    # The costs table over days before any task started: named, not summed.
    url = reverse("connectors:table-detail", args=[connector.pk, "costs"])
    html = viewer_client.get(url, {"preset": "custom", "start": "2026-08-30"}).content.decode()
    assert "Not collected by any task that can answer this: 2026-08-30 – 2026-08-31" in html


def test_it_forgets_the_rows_of_a_grouping_that_changed(staff_client, make_task, emulator):
    task = make_task("costs", StartTime="2026-10-01", EndTime="2026-11-01", GroupBy=["project_id"])
    assert run_now(task).status == "succeeded"
    post = {
        "name": "Costs",
        "type": "costs",
        "costs-StartTime": "2026-10-01",
        "costs-EndTime": "2026-11-01",
        "costs-GroupBy": ["project_id", "line_item"],
        "interval_unit": "daily",
        "interval_every": "1",
        "queue_behaviour": "skip",
    }
    response = staff_client.post(reverse("connectors:task-edit", args=[task.pk]), post)
    assert response.status_code in (200, 302)
    task.refresh_from_db()
    assert task.parameters["costs-GroupBy"] == ["project_id", "line_item"], response.content[:400]
    assert not USAGE_TABLES["costs"].objects.filter(task=task).exists()
    assert run_now(task).status == "succeeded"
    url = reverse("connectors:table-detail", args=[task.connector_id, "costs"])
    html = staff_client.get(url, {"preset": "all"}).content.decode()
    expected = spend(emulator, OCTOBER, NOVEMBER).normalize()
    assert f'<td class="num" title="{expected:f}">' in html.split('<tr class="totals">')[1]


def test_it_compares_the_demo_months_over_days_both_collected(db, viewer_client, settings):
    """The demo on the real clock: its tasks collect from the first day of last month,
    so this month's whole days are compared with the same days of last month."""
    settings.OPENAI_RETRY_BASE_SECONDS = 0.01
    emulator = Emulator(seed=DEFAULT_SEED)  # the real clock, as `make demo` runs it
    with serve_in_thread(emulator) as server:
        connector = demo_setup(server.base_url)
        for run in TaskRun.objects.filter(task__connector=connector):
            run.delete()  # queued by demo_setup for a worker; run here instead
        connector.requests_per_minute = 0
        connector.save()
        for task in connector.tasks.all():
            assert run_now(task).status == "succeeded"
        today = datetime.now(UTC).date()
        month = today.replace(day=1)
        html = viewer_client.get(
            reverse("connectors:connector-overview", args=[connector.pk])
        ).content.decode()
        assert demo_start(today).date() == (month - timedelta(days=1)).replace(day=1)
        whole = [month + timedelta(days=i) for i in range((today - month).days)]
        if not whole:  # the first of a month: nothing whole to compare yet, and it says so
            assert "no whole day collected in both months" in html
            return
        start = demo_start(today).date()
        whole = [d for d in whole if start + (d - month) < month]  # day k of both months
        this = sum(spend(emulator, _at(d), _at(d + timedelta(days=1))) for d in whole)
        last_days = [start + (d - month) for d in whole]
        last = sum(spend(emulator, _at(d), _at(d + timedelta(days=1))) for d in last_days)
        change = ((this - last) / last * 100).quantize(Decimal("0.1"), ROUND_HALF_UP)
        shown = re.search(r'id="spend-change">([^<]*)<', html)[1]
        assert shown == f"{'+' if change > 0 else ''}{change} %"
        assert overview.month_spend(connector, month, today)["compared_all"] is False


def _at(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def test_it_says_utc_and_shows_utc_to_a_user_in_another_time_zone(
    viewer_client, other_user, three_tasks
):
    """The Tables page's columns say UTC: a user in Los Angeles sees the costs task's
    first day as 2026-09-01 00:00, not the evening before."""
    from connectors.models import Preference

    Preference.objects.create(user=other_user, time_zone="America/Los_Angeles")
    connector = three_tasks[0].connector
    html = viewer_client.get(reverse("connectors:table-list", args=[connector.pk]))
    row = html.content.decode().split('tables/costs/">costs</a>')[1].split("</tr>")[0]
    assert "2026-09-01 00:00 →" in row and "2026-08-31 17:00" not in row


@pytest.mark.parametrize(
    ("query_type", "words"),
    [
        ("images", "An images task"),
        ("audio_speeches", "An audio_speeches task"),
        ("embeddings", "An embeddings task"),
        ("costs", "A costs task"),
        ("completions", "A completions task"),
    ],
)
def test_the_suggested_task_reads_as_english(query_type, words):
    """The page says which task would answer: 'An images task', never 'A images task'."""
    question = planner.Question(STREAMS[query_type])
    assert planner.suggestion(question, None) == f"{words} and no filters would answer it."
