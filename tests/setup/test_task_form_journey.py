"""The task form as an analyst fills it: `all` once, names for ids, the request estimate
and its confirmation, technical names on demand, the schedule in the user's zone."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from connectors.models import DAILY_BY_TABLES, ApiKeyEntry, Preference, ProjectEntry, Task
from connectors.openai.streams import STREAMS, UsageStream
from connectors.setup.estimate import LARGE_REQUESTS, run_estimate
from connectors.setup.pickers import task_pickers
from connectors.setup.task_form import TaskForm

SCHEDULE = {"interval_unit": "daily", "interval_every": "1", "queue_behaviour": "skip"}
USAGE = [t for t, s in STREAMS.items() if isinstance(s, UsageStream)]


def add_url(connector) -> str:
    return reverse("connectors:task-add", args=[connector.pk])


def estimate_url(connector) -> str:
    return reverse("connectors:task-estimate", args=[connector.pk])


def test_it_saves_all_with_only_the_shared_start_time(staff_client, connector):
    data = {"type": "all", "shared-StartTime": "2026-01-01", **SCHEDULE}
    response = staff_client.post(add_url(connector), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    parameters = Task.objects.get().parameters
    for prefix in USAGE:
        assert parameters[f"{prefix}-StartTime"] == "2026-01-01"
        assert parameters[f"{prefix}-BucketWidth"] == "1d"
    assert not any(name.startswith("shared-") for name in parameters)


def test_it_lets_a_section_override_the_shared_values(connector):
    data = {
        "type": "all",
        "shared-StartTime": "2026-01-01",
        "shared-EndTime": "2026-02-01",
        "shared-BucketWidth": "1h",
        "completions-StartTime": "2026-01-15",
    }
    form = TaskForm(data, query_type="all")
    assert form.is_valid(), form.errors
    stored = form.parameters()
    assert stored["completions-StartTime"] == "2026-01-15"
    assert stored["completions-EndTime"] == "2026-02-01"
    assert stored["embeddings-StartTime"] == "2026-01-01"
    assert stored["embeddings-BucketWidth"] == "1h"
    assert stored["costs-BucketWidth"] == "1d"  # costs has daily buckets only


def test_it_shows_a_saved_all_task_with_the_shared_values_and_only_real_overrides(
    staff_client, connector
):
    data = {"type": "all", "shared-StartTime": "2026-01-01", "images-StartTime": "2026-03-01"}
    staff_client.post(add_url(connector), data | SCHEDULE)
    task = Task.objects.get()
    html = staff_client.get(reverse("connectors:task-edit", args=[task.pk])).content.decode()
    assert 'name="shared-StartTime" value="2026-01-01"' in html
    assert 'name="images-StartTime" value="2026-03-01"' in html
    assert 'name="completions-StartTime" value=' not in html  # left empty: shared


def test_it_announces_errors_at_the_top_and_opens_the_section_that_needs_a_fix(
    staff_client, connector
):
    data = {
        "type": "all",
        "shared-StartTime": "2025-01-01",
        "costs-GroupBy": "api_key_id",  # refused by OpenAI before 2025-12-06
        **SCHEDULE,
    }
    response = staff_client.post(add_url(connector), data, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200 and Task.objects.count() == 0
    summary = html[html.index('class="error-summary"') : html.index("</ul>")]
    assert 'role="alert"' in summary
    assert 'href="#id_costs-StartTime"' in summary and "costs · START TIME" in summary
    costs = html[html.index("<code>costs</code>") - 200 : html.index("<code>costs</code>")]
    assert "open" in costs.rsplit("<details", 1)[1]
    completions = html[: html.index("<code>completions</code>")].rsplit("<details", 1)[1]
    assert "open" not in completions


def test_it_asks_for_the_shared_start_time_once_with_no_required_attribute(staff_client, connector):
    response = staff_client.post(add_url(connector), {"type": "all", **SCHEDULE})
    html = response.content.decode()
    assert Task.objects.count() == 0
    assert 'href="#id_shared-StartTime"' in html
    assert html.count("START TIME is required.") == 2  # in the summary and at the field
    form_html = html[html.index('id="task-params"') : html.index('class="schedule"')]
    assert not re.search(r"<(input|select|textarea)[^>]*\brequired\b", form_html)


def test_it_estimates_the_parameters_being_typed_with_the_duration(staff_client, connector):
    connector.requests_per_minute = 120
    connector.save()
    data = {"type": "completions", "completions-StartTime": "2026-01-01"}
    data |= {"completions-EndTime": "2026-01-02", "completions-BucketWidth": "1m"}
    response = staff_client.post(estimate_url(connector), data, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert "<html" not in html and "<form" not in html  # the fragment alone
    assert "1 request ≈ 1 min at 120 a minute" in html  # 1,440 minute buckets: one page


def test_it_formats_large_estimates_with_thousands_and_hours():
    estimate = run_estimate(
        {
            "type": "completions",
            "completions-StartTime": "2024-01-01",
            "completions-BucketWidth": "1m",
        },
        120,
        datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert estimate.requests == 731  # 731 days of 1,440 minute buckets, one day a page
    assert estimate.text == "731 requests ≈ 7 min at 120 a minute"
    slow = run_estimate(
        {**estimate_params("1m"), "type": "all"}, 60, datetime(2026, 1, 1, tzinfo=UTC)
    )
    assert slow.large and " h " in slow.text and "," in slow.text


def estimate_params(width: str) -> dict:
    data = {}
    for prefix in USAGE:
        data |= {f"{prefix}-StartTime": "2024-01-01", f"{prefix}-BucketWidth": width}
    return data


@pytest.mark.parametrize("task", ["²", "٣", "9" * 40, "-1", "x"])
def test_it_estimates_a_new_task_for_a_task_number_it_cannot_read(staff_client, connector, task):
    data = {"type": "completions", "completions-StartTime": "2026-01-01"}
    data |= {"completions-EndTime": "2026-01-02", "completions-BucketWidth": "1d"}
    url = f"{estimate_url(connector)}?task={task}"
    response = staff_client.post(url, data, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "1 request" in response.content.decode()


def test_it_says_when_the_estimate_waits_for_valid_parameters(staff_client, connector):
    response = staff_client.post(estimate_url(connector), {"type": "completions"})
    assert "appears once the parameters are complete and valid" in response.content.decode()


def test_it_refuses_a_large_backfill_until_it_is_confirmed(staff_client, connector):
    data = {"type": "all", "shared-StartTime": "2026-01-01", "shared-BucketWidth": "1m"}
    data |= SCHEDULE
    response = staff_client.post(add_url(connector), data)
    html = response.content.decode()
    assert Task.objects.count() == 0
    form = TaskForm(data, query_type="all", rate=connector.requests_per_minute)
    assert not form.is_valid()
    requests = form.estimate.requests
    assert requests > LARGE_REQUESTS
    assert f"I understand this backfill makes {requests} requests" in html
    assert 'href="#id_confirm_requests"' in html
    stale = staff_client.post(add_url(connector), data | {"confirm_requests": str(requests - 1)})
    assert stale.status_code == 200 and Task.objects.count() == 0  # ticked for another size
    saved = staff_client.post(add_url(connector), data | {"confirm_requests": str(requests)})
    assert saved.status_code == 302
    assert Task.objects.get().parameters["completions-BucketWidth"] == "1m"


def test_it_does_not_ask_again_when_an_edit_keeps_a_large_task(staff_client, connector):
    data = {"type": "all", "shared-StartTime": "2026-01-01", "shared-BucketWidth": "1m"}
    form = TaskForm(data, query_type="all", rate=120)
    form.is_valid()
    confirmed = data | SCHEDULE | {"confirm_requests": str(form.estimate.requests)}
    staff_client.post(add_url(connector), confirmed)
    task = Task.objects.get()
    edit = reverse("connectors:task-edit", args=[task.pk])
    response = staff_client.post(edit, data | SCHEDULE | {"name": "Renamed"})
    assert response.status_code == 302
    task.refresh_from_db()
    assert task.name == "Renamed"


def test_it_offers_the_directory_by_name_and_the_models_seen(staff_client, connector, task):
    now = timezone.now()
    seen = {"first_fetched_at": now, "last_fetched_at": now, "connector": connector}
    ProjectEntry.objects.create(openai_id="proj_res", object="p", name="Research", **seen)
    ProjectEntry.objects.create(
        openai_id="proj_old", object="p", name="Old lab", archived_at=now, **seen
    )
    ApiKeyEntry.objects.create(
        openai_id="key_gone",
        object="k",
        name="CI key",
        project_id="proj_res",
        removed_at=now,
        **seen,
    )
    DAILY_BY_TABLES["completions"].objects.create(
        connector=connector,
        task=task,
        day=now.date(),
        bucket_width="1d",
        dimension="model",
        model="gpt-4o-mini",
        row_count=1,
        provisional_rows=0,
    )
    pickers = task_pickers(connector)
    assert pickers["project_id"] == ["Old lab (proj_old) · archived", "Research (proj_res)"]
    assert pickers["api_key_id"] == ["CI key (key_gone) · deleted"]
    assert pickers["model"] == ["gpt-4o-mini"]
    html = staff_client.get(add_url(connector), {"type": "completions"}).content.decode()
    assert '<datalist id="pick-project_id">' in html
    assert '<option value="Research (proj_res)">' in html
    assert 'list="pick-model" data-pick-into="id_completions-Models"' in html


def test_it_still_accepts_ids_the_directory_does_not_hold(connector):
    data = {"type": "costs", "costs-StartTime": "2026-01-01", "costs-ProjectIds": "proj_new"}
    form = TaskForm(data, query_type="costs")
    assert form.is_valid(), form.errors
    assert form.parameters()["costs-ProjectIds"] == ["proj_new"]


def test_it_shows_technical_names_only_behind_one_toggle(staff_client, connector):
    html = staff_client.get(add_url(connector), {"type": "costs"}).content.decode()
    assert html.count('id="show-tech"') == 1
    assert '<code class="tech">costs-StartTime</code>' in html
    assert '<div class="hint">costs-StartTime' not in html


@pytest.fixture
def berlin_client(staff_client, user):
    Preference.objects.create(user=user, time_zone="Europe/Berlin")
    return staff_client


def test_it_reads_the_schedule_start_in_the_zone_it_is_labelled_with(berlin_client, connector):
    data = {"type": "projects", **SCHEDULE, "schedule_enabled": "on"}
    data["schedule_start"] = "2026-01-10T07:00"
    html = berlin_client.get(add_url(connector)).content.decode()
    assert "Start date (Europe/Berlin)" in html
    berlin_client.post(add_url(connector), data)
    task = Task.objects.get()
    assert task.schedule_start == datetime(2026, 1, 10, 6, 0, tzinfo=UTC)  # 07:00 in Berlin
    edit = berlin_client.get(reverse("connectors:task-edit", args=[task.pk])).content.decode()
    assert 'value="2026-01-10T07:00"' in edit
    page = berlin_client.get(reverse("connectors:task-detail", args=[task.pk])).content.decode()
    assert "Every day, from 2026-01-10 07:00 (Europe/Berlin)" in page


def test_it_shows_a_cron_expression_as_code_without_backticks(staff_client, task):
    task.schedule_enabled, task.interval_unit, task.cron = True, "cron", "0 7 * * 1"
    task.schedule_start = datetime(2026, 1, 1, tzinfo=UTC)
    task.save()
    html = staff_client.get(reverse("connectors:task-detail", args=[task.pk])).content.decode()
    assert "CRON <code>0 7 * * 1</code> (UTC)" in html
    assert "`" not in html[html.index("Schedule") :][:400]


def test_it_estimates_a_saved_large_task_without_asking_again(staff_client, connector):
    data = {"type": "all", "shared-StartTime": "2026-01-01", "shared-BucketWidth": "1m"}
    form = TaskForm(data, query_type="all", rate=120)
    form.is_valid()
    staff_client.post(
        add_url(connector), data | SCHEDULE | {"confirm_requests": str(form.estimate.requests)}
    )
    task = Task.objects.get()
    url = f"{estimate_url(connector)}?task={task.pk}"
    kept = staff_client.post(url, data).content.decode()
    assert f"{form.estimate.requests:,} requests" in kept and "I understand" not in kept
    wider = staff_client.post(url, data | {"shared-StartTime": "2025-06-01"}).content.decode()
    assert "I understand this backfill makes" in wider  # changed: asked again
