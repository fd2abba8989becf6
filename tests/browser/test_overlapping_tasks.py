"""Several tasks on one connector, in a real browser with a real worker: a costs task and
a second costs task added through the form, and an `all` task, over the same days. Run
all, then the Overview's spend equals OpenAI's truth once, and the costs table says
which task answers which days."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

import pytest

from connectors.models import Connector, TaskRun
from connectors.openai.emulator import DEMO_ADMIN_KEY
from connectors.openai.emulator import totals as truth_totals
from tests.collection.conftest import epoch
from tests.collection.test_overlapping_tasks import all_task

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def money(value: Decimal) -> str:
    return f"${value.quantize(Decimal('0.01'), ROUND_HALF_UP):,}"


def add_costs_task(page, name: str, start: str, group_by: list[str]) -> None:
    page.click("text=Add Task")
    page.wait_for_url("**/tasks/add/")
    page.wait_for_load_state("load")  # htmx has taken over the form's QUERY TYPE
    page.select_option("select[name=type]", "costs")
    page.wait_for_selector("input[name=costs-StartTime]")
    page.fill("input[name=name]", name)
    page.fill("input[name=costs-StartTime]", start)
    page.fill("input[name=costs-EndTime]", "2026-11-01")
    for dimension in group_by:
        page.check(f"input[name=costs-GroupBy][value={dimension}]")
    page.click("button:has-text('Save')")
    page.wait_for_url(re.compile(r"/tasks/\d+/$"))  # the saved task's page


def test_it_shows_one_true_spend_for_overlapping_tasks(
    page, live_server, admin_login, emulator_server, emulator, start_worker, shot
):
    connector = Connector(
        kind="openai", name="Acme", base_url=emulator_server.base_url, requests_per_minute=0
    )
    connector.set_admin_key(DEMO_ADMIN_KEY)
    connector.save()
    all_task(connector, "2026-10-01")
    start_worker()
    admin_login()
    detail = f"{live_server.url}/connectors/{connector.pk}/"
    page.goto(detail)
    add_costs_task(page, "Costs by project", "2026-09-01", ["project_id", "line_item"])
    page.goto(detail)
    add_costs_task(page, "Costs, second half of October", "2026-10-15", [])
    page.goto(detail)
    page.click("button:has-text('Run all')")
    page.wait_for_timeout(500)
    runs = TaskRun.objects.filter(task__connector=connector)
    for _ in range(240):
        if runs.count() == 3 and not runs.exclude(status="succeeded").exists():
            break
        page.wait_for_timeout(500)
    assert sorted(runs.values_list("status", flat=True)) == ["succeeded"] * 3

    page.goto(f"{detail}overview/?month=2026-10")
    buckets = emulator.ground_truth(
        "costs", start=epoch("2026-10-01"), end=epoch("2026-11-01"), bucket_width="1d"
    )
    october = Decimal(truth_totals(buckets)["amount.value"])
    assert page.inner_text("#spend-this") == money(october)
    september = Decimal(
        truth_totals(
            emulator.ground_truth(
                "costs", start=epoch("2026-09-01"), end=epoch("2026-10-01"), bucket_width="1d"
            )
        )["amount.value"]
    )
    assert page.inner_text("#spend-last") == money(september)
    shot("1-overview")

    page.goto(f"{live_server.url}/connectors/{connector.pk}/tables/costs/?preset=all")
    answer = page.inner_text("[data-answer]")
    assert "Costs by project" in answer and "each day is counted from one task only" in answer
    shot("2-costs-table")

    page.click("nav >> text=All organizations")
    page.goto(f"{live_server.url}/overview/?month=2026-10")
    assert page.inner_text("#spend-this-total") == money(october)
    assert page.inner_text(f"#spend-this-{connector.pk}") == money(october)
    shot("3-all-organizations")
