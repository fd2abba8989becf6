"""The task form in a real browser: Save with only START TIME works for every query type,
`all` is filled once, a large backfill is confirmed, ids are picked by name."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from connectors.models import Connector, ProjectEntry, Task
from connectors.openai.streams import QUERY_TYPES, STREAMS, UsageStream

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def saved_connector() -> Connector:
    connector = Connector(kind="openai", name="Acme org", base_url="http://127.0.0.1:9/v1")
    connector.set_admin_key("sk-admin-browser-fixture-key-abcd")
    connector.save()
    return connector


def start_field(query_type: str) -> str | None:
    """The one START TIME a person fills for a query type (None: it has none)."""
    if query_type == "all":
        return "shared-StartTime"
    if query_type == "generic" or isinstance(STREAMS[query_type], UsageStream):
        return f"{query_type}-StartTime"
    return None


def open_form(page, live_server, connector, query_type: str) -> None:
    page.goto(f"{live_server.url}/connectors/{connector.pk}/tasks/add/")
    page.select_option("select[name=type]", query_type)
    page.wait_for_selector(f"#task-params :text('{query_type}')")


@pytest.mark.parametrize("query_type", QUERY_TYPES)
def test_it_saves_every_query_type_with_only_start_time(
    page, live_server, admin_login, saved_connector, shot, query_type
):
    admin_login()
    open_form(page, live_server, saved_connector, query_type)
    field = start_field(query_type)
    if field:
        page.fill(f"input[name='{field}']", "2026-01-01")
    page.wait_for_selector("#task-estimate :text('Request estimate:')")
    page.click("button:has-text('Save')")
    page.wait_for_url(re.compile(r"/tasks/\d+/$"))
    if query_type in ("all", "generic", "completions"):
        shot("saved")
    task = Task.objects.get()
    assert task.query_type == query_type
    if field and query_type != "all":
        assert task.parameters[field] == "2026-01-01"
    if query_type == "all":
        assert task.parameters["costs-StartTime"] == "2026-01-01"


def test_it_shows_what_all_needs_when_start_time_is_missing(
    page, live_server, admin_login, saved_connector, shot
):
    admin_login()
    open_form(page, live_server, saved_connector, "all")
    shot("1-all-form")
    assert page.locator("details.section[open]").count() == 0
    page.fill("input[name='shared-StartTime']", "2025-01-01")
    page.click("details.section:has(code:text-is('costs')) summary")
    page.check("input[name=costs-GroupBy][value=api_key_id]")
    page.click("button:has-text('Save')")
    summary = page.locator(".error-summary[role=alert]")
    summary.wait_for()
    shot("2-all-error")
    assert Task.objects.count() == 0
    assert page.locator("details.section[open]").count() == 1
    assert page.locator("details.section[open] summary code").inner_text() == "costs"
    summary.locator("a[href='#id_costs-StartTime']").click()
    assert page.locator("#id_costs-StartTime").is_visible()


def test_it_confirms_a_large_backfill_before_saving(
    page, live_server, admin_login, saved_connector, shot
):
    admin_login()
    open_form(page, live_server, saved_connector, "all")
    page.fill("input[name='shared-StartTime']", "2026-01-01")
    page.select_option("select[name='shared-BucketWidth']", "1m")
    page.locator("#task-estimate label.confirm").wait_for()  # offered as soon as it is large
    estimate = page.locator("#task-estimate").inner_text()
    requests = int(re.search(r"([\d,]+) requests", estimate).group(1).replace(",", ""))
    assert requests > 1000 and "at 120 a minute" in estimate
    page.click("button:has-text('Save')")
    page.locator(".error-summary").wait_for()
    shot("1-asks-confirmation")
    assert Task.objects.count() == 0
    page.get_by_label(f"I understand this backfill makes {requests} requests").check()
    page.click("button:has-text('Save')")
    page.wait_for_url(re.compile(r"/tasks/\d+/$"))
    assert Task.objects.get().parameters["images-BucketWidth"] == "1m"


def test_it_picks_a_project_by_name_and_stores_its_id(
    page, live_server, admin_login, saved_connector, shot
):
    now = timezone.now()
    ProjectEntry.objects.create(
        connector=saved_connector,
        openai_id="proj_res",
        object="organization.project",
        name="Research",
        first_fetched_at=now,
        last_fetched_at=now,
    )
    admin_login()
    open_form(page, live_server, saved_connector, "costs")
    page.fill("input[name='costs-StartTime']", "2026-01-01")
    picker = page.locator("input[data-pick-into='id_costs-ProjectIds']")
    picker.fill("Research (proj_res)")
    picker.dispatch_event("change")
    assert page.input_value("textarea[name='costs-ProjectIds']") == "proj_res"
    picker.fill("proj_free")
    picker.dispatch_event("change")
    page.click("#show-tech")
    assert page.locator("code.tech:text-is('costs-ProjectIds')").is_visible()
    shot("1-picked")
    page.click("button:has-text('Save')")
    page.wait_for_url(re.compile(r"/tasks/\d+/$"))
    assert Task.objects.get().parameters["costs-ProjectIds"] == ["proj_res", "proj_free"]
