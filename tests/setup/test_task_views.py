"""Task pages: the form and its HTMX parameter swap, saving, the task page, edit, delete."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

from django.urls import reverse

from connectors.models import Task
from connectors.openai.streams import STREAMS, USAGE_PAGE_LIMITS, WIDTH_SECONDS


def add_url(connector) -> str:
    return reverse("connectors:task-add", args=[connector.pk])


def test_it_shows_the_add_task_form_with_every_query_type_in_order(staff_client, connector):
    response = staff_client.get(add_url(connector))
    assert response.status_code == 200
    html = response.content.decode()
    assert "QUERY TYPE" in html
    positions = [html.index(f'<option value="{t}"') for t in (*STREAMS, "all", "generic")]
    assert positions == sorted(positions)
    assert "Choose a QUERY TYPE to see its parameters." in html


def test_it_swaps_in_the_parameters_of_the_chosen_type_as_a_fragment(staff_client, connector):
    response = staff_client.get(
        add_url(connector), {"type": "costs"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="task-params">')
    assert "<html" not in html
    for label in ("START TIME", "END TIME", "BUCKET WIDTH", "GROUP BY", "PROJECT IDS"):
        assert label in html
    assert "costs-StartTime" in html
    assert "USER IDS" not in html  # costs has no user filter


def test_it_saves_a_task_and_lands_on_its_page(staff_client, connector):
    data = {
        "name": "Daily completions",
        "type": "completions",
        "completions-StartTime": "2026-01-01",
        "completions-EndTime": "2026-03-01",
        "completions-BucketWidth": "1h",
        "completions-GroupBy": ["project_id", "model"],
        "completions-ProjectIds": "proj_a\nproj_b",
        "completions-Batch": "false",
        "interval_unit": "daily",
        "interval_every": "1",
        "queue_behaviour": "skip",
    }
    response = staff_client.post(add_url(connector), data)
    task = Task.objects.get(connector=connector)
    assert response.status_code == 302
    assert response.url == reverse("connectors:task-detail", args=[task.pk])
    assert task.parameters["completions-GroupBy"] == ["project_id", "model"]
    assert task.parameters["completions-ProjectIds"] == ["proj_a", "proj_b"]
    assert task.parameters["completions-Batch"] is False
    assert task.parameters["completions-BucketWidth"] == "1h"


def test_it_redirects_htmx_saves_on_the_client(staff_client, connector):
    data = {
        "type": "users",
        "interval_unit": "daily",
        "interval_every": "1",
        "queue_behaviour": "skip",
    }
    response = staff_client.post(add_url(connector), data, headers={"HX-Request": "true"})
    task = Task.objects.get(connector=connector)
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("connectors:task-detail", args=[task.pk])


def test_it_returns_an_invalid_form_as_a_fragment_with_status_200(staff_client, connector):
    data = {
        "type": "embeddings",
        "embeddings-StartTime": "2026-02-01",
        "embeddings-EndTime": "2026-01-01",
        "embeddings-BucketWidth": "1d",
        "interval_unit": "daily",
        "interval_every": "1",
        "queue_behaviour": "skip",
    }
    response = staff_client.post(add_url(connector), data, headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<form id="task-form"')
    assert "END TIME must be after START TIME." in html
    assert 'value="2026-02-01"' in html  # what the user typed is kept
    assert not Task.objects.exists()


def test_it_shows_parameters_schedule_and_the_request_estimate(staff_client, task):
    task.schedule_enabled = True
    task.schedule_start = datetime(2026, 1, 1, 6, 0, tzinfo=UTC)
    task.interval_unit = "hours"
    task.interval_every = 6
    task.save()
    response = staff_client.get(reverse("connectors:task-detail", args=[task.pk]))
    html = response.content.decode()
    assert "completions-GroupBy" in html and "project_id, model" in html
    assert "Every 6 hours, from 2026-01-01 06:00 (UTC)" in html
    assert "Upcoming" in html
    # January 2026 in 1d buckets: 31 buckets, at most 31 per page.
    days = (datetime(2026, 2, 1) - datetime(2026, 1, 1)).days
    requests = math.ceil(days / USAGE_PAGE_LIMITS["1d"][1])
    assert f"A full run makes at least <strong>{requests}</strong> API request" in html


def test_it_estimates_a_year_of_hourly_buckets_per_page_limit(staff_client, task):
    task.parameters |= {
        "completions-StartTime": "2025-01-01",
        "completions-EndTime": "2026-01-01",
        "completions-BucketWidth": "1h",
    }
    task.save()
    html = staff_client.get(reverse("connectors:task-detail", args=[task.pk])).content.decode()
    hours = (
        int((datetime(2026, 1, 1) - datetime(2025, 1, 1)).total_seconds()) // WIDTH_SECONDS["1h"]
    )
    expected = math.ceil(hours / USAGE_PAGE_LIMITS["1h"][1])
    assert f"at least <strong>{expected}</strong>" in html
    assert f"{hours:,}" in html


def test_it_sums_the_estimate_over_every_endpoint_for_all(staff_client, connector):
    data = {
        "type": "all",
        "interval_unit": "daily",
        "interval_every": "1",
        "queue_behaviour": "skip",
    }
    usage = [t for t, s in STREAMS.items() if s.kind == "usage"]
    for prefix in usage:
        data |= {
            f"{prefix}-StartTime": "2026-01-01",
            f"{prefix}-EndTime": "2026-01-08",
            f"{prefix}-BucketWidth": "1d",
        }
    response = staff_client.post(add_url(connector), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    html = staff_client.get(response.url).content.decode()
    # a week of 1d buckets fits one page per usage endpoint; each directory list needs one.
    expected = len(usage) + (len(STREAMS) - len(usage))
    assert f"at least <strong>{expected}</strong>" in html


def test_it_exports_the_parameters_as_json_by_technical_name(staff_client, task):
    response = staff_client.get(reverse("connectors:task-parameters", args=[task.pk]))
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content) == task.parameters


def test_it_edits_a_task_keeping_what_is_not_changed(staff_client, task):
    url = reverse("connectors:task-edit", args=[task.pk])
    page = staff_client.get(url).content.decode()
    assert 'value="2026-01-01"' in page and "checked" in page
    data = {
        "name": "Renamed",
        "type": "completions",
        "completions-StartTime": "2026-01-01",
        "completions-BucketWidth": "1d",
        "completions-GroupBy": ["project_id", "model"],
        "interval_unit": "weekly",
        "interval_every": "1",
        "schedule_enabled": "on",
        "schedule_start": "2026-01-05T00:00",
        "queue_behaviour": "queue",
    }
    assert staff_client.post(url, data).status_code == 302
    task.refresh_from_db()
    assert task.name == "Renamed"
    assert task.parameters["completions-EndTime"] is None
    assert task.schedule_enabled and task.queue_behaviour == "queue"


def test_it_asks_before_deleting_a_task(staff_client, task):
    url = reverse("connectors:task-delete", args=[task.pk])
    assert "Delete task" in staff_client.get(url).content.decode()
    assert Task.objects.filter(pk=task.pk).exists()
    response = staff_client.post(url)
    assert response.url == reverse("connectors:connector-detail", args=[task.connector_id])
    assert not Task.objects.filter(pk=task.pk).exists()


def test_it_shows_and_exports_parameters_in_the_forms_order(staff_client, task):
    from connectors.setup.task_form import named_params

    expected = ["type", *[name for name, _ in named_params("completions")]]
    exported = staff_client.get(reverse("connectors:task-parameters", args=[task.pk]))
    assert list(json.loads(exported.content)) == expected
    html = staff_client.get(reverse("connectors:task-detail", args=[task.pk])).content.decode()
    positions = [html.index(f"<code>{name}</code>") for name in expected]
    assert positions == sorted(positions)


def test_it_links_a_task_to_its_own_rows_in_each_table(staff_client, task):
    html = staff_client.get(reverse("connectors:task-detail", args=[task.pk])).content.decode()
    table = reverse("connectors:table-detail", args=[task.connector_id, "completions"])
    assert f'href="{table}?task={task.pk}&amp;preset=all"' in html
