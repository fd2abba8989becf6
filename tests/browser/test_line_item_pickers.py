"""LINE ITEMS is picked like PROJECT IDS: the costs section of the task form and the costs
table's LINE ITEM filter offer the line items the connector's costs rows hold, a chosen
name is kept whole (its commas and brackets included), and a value not offered is
accepted too."""

from __future__ import annotations

import re

import pytest
from django.conf import settings

from connectors.collection import engine
from connectors.models import Connector, Task, TaskRun
from connectors.openai.emulator import DEMO_ADMIN_KEY

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OCTOBER = {"start": 1790812800, "end": 1793491200}  # 2026-10-01 to 2026-11-01 (UTC)
FREE = "gpt-9, input (a name not collected yet)"


@pytest.fixture
def costs_by_line_item(emulator_server) -> Connector:
    settings.OPENAI_RETRY_BASE_SECONDS = 0.01
    connector = Connector(
        kind="openai", name="Acme org", base_url=emulator_server.base_url, requests_per_minute=0
    )
    connector.set_admin_key(DEMO_ADMIN_KEY)
    connector.save()
    parameters = {
        "type": "costs",
        "costs-StartTime": "2026-10-01",
        "costs-EndTime": "2026-11-01",
        "costs-GroupBy": ["line_item"],
    }
    task = Task.objects.create(connector=connector, query_type="costs", parameters=parameters)
    run = TaskRun.objects.create(task=task, trigger="manual")
    engine.run_execute(run.pk)
    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    return connector


def truth_line_items(emulator) -> list[dict]:
    buckets = emulator.ground_truth("costs", **OCTOBER, group_by=["line_item"])
    return [result for bucket in buckets for result in bucket["results"]]


def options(page, datalist: str) -> list[str]:
    return page.eval_on_selector_all(
        f"datalist#{datalist} option", "options => options.map(o => o.value)"
    )


def test_it_offers_the_collected_line_items_in_the_task_form(
    page, live_server, admin_login, costs_by_line_item, emulator, shot
):
    items = sorted({row["line_item"] for row in truth_line_items(emulator)})
    bracketed = next(i for i in items if re.search(r", .*\(batch\)$", i))  # a comma and brackets
    admin_login()
    page.goto(f"{live_server.url}/connectors/{costs_by_line_item.pk}/tasks/add/")
    page.wait_for_load_state("networkidle")  # htmx has taken over the QUERY TYPE select
    page.select_option("select[name=type]", "costs")
    lines = page.locator("textarea[name='costs-LineItems']")
    lines.wait_for()
    picker = page.locator("input[data-pick-into='id_costs-LineItems']")
    assert picker.get_attribute("list") == "pick-line_item"
    assert options(page, "pick-line_item") == items

    page.fill("input[name='costs-StartTime']", "2026-10-01")
    picker.fill(bracketed)
    picker.press("Enter")  # adds the line item; it does not submit the form
    assert lines.input_value() == bracketed
    picker.fill(FREE)
    picker.press("Enter")
    picker.fill(bracketed)  # picked twice: listed once
    picker.press("Enter")
    assert lines.input_value() == f"{bracketed}\n{FREE}"
    assert page.url.endswith("/tasks/add/") and Task.objects.count() == 1
    shot("1-line-items-picked")

    page.click("button:has-text('Save')")
    page.wait_for_url(re.compile(r"/tasks/\d+/$"))
    saved = Task.objects.latest("pk")
    assert saved.parameters["costs-LineItems"] == [bracketed, FREE]


def test_it_offers_the_collected_line_items_in_the_costs_table_filter(
    page, live_server, admin_login, costs_by_line_item, emulator, shot
):
    rows = truth_line_items(emulator)
    items = sorted({row["line_item"] for row in rows})
    bracketed = next(i for i in items if re.search(r", .*\(batch\)$", i))
    admin_login()
    page.goto(f"{live_server.url}/connectors/{costs_by_line_item.pk}/tables/costs/?preset=all")
    page.wait_for_load_state("networkidle")
    line_filter = page.locator("input[name=line_item]")
    assert line_filter.get_attribute("list") == "choices-line_item"
    assert options(page, "choices-line_item") == items

    line_filter.fill(bracketed)
    line_filter.press("Enter")
    page.wait_for_url("**line_item=**")
    wanted = sum(1 for row in rows if row["line_item"] == bracketed)  # one a day it ran
    count = page.locator("#table-data .tablebar span.muted")
    count.filter(has_text=re.compile(rf"^{wanted} rows? ·")).wait_for()
    shot("1-costs-filtered-by-line-item")
