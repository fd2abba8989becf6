"""The data pages as a FinOps analyst uses them: the directory tables, a project picked
by name, numbers for people and charts with every series named."""

from __future__ import annotations

import pytest
from django.conf import settings

from connectors.collection import engine
from connectors.models import Connector, Task, TaskRun
from connectors.openai.emulator import DEMO_ADMIN_KEY
from connectors.openai.emulator.truth import totals as truth_totals
from tests.browser.conftest import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def collect(connector: Connector, query_type: str, **parameters) -> Task:
    params = {"type": query_type} | {f"{query_type}-{k}": v for k, v in parameters.items()}
    task = Task.objects.create(connector=connector, query_type=query_type, parameters=params)
    run = TaskRun.objects.create(task=task, trigger="manual")
    engine.run_execute(run.pk)
    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    return task


@pytest.fixture
def org(emulator_server) -> Connector:
    settings.OPENAI_RETRY_BASE_SECONDS = 0.01
    connector = Connector(
        kind="openai", name="Acme org", base_url=emulator_server.base_url, requests_per_minute=0
    )
    connector.set_admin_key(DEMO_ADMIN_KEY)
    connector.save()
    return connector


def test_an_analyst_browses_the_projects_directory(
    page, live_server, admin_login, shot, org, emulator
):
    collect(org, "projects", IncludeArchived=True)
    projects = emulator.directory_truth()["projects"]
    archived = sorted(p["name"] for p in projects if p["status"] == "archived")
    admin_login()
    page.goto(f"{live_server.url}/connectors/{org.pk}/tables/")
    page.get_by_role("link", name="projects", exact=True).click()
    page.wait_for_url("**/tables/projects/**")
    page.wait_for_load_state("load")  # the STATUS filter's script is attached
    rows = page.locator("table.directory tbody tr")
    assert rows.count() == len(projects)
    assert page.locator("th[aria-sort=ascending]").inner_text().startswith("name")
    page.select_option("select[name=status]", "archived")
    page.wait_for_url("**status=archived**")
    # exactly len(archived) rows: the last one is that row
    page.wait_for_selector(f"table.directory tbody tr:nth-child({len(archived)}):last-child")
    names = [rows.nth(i).locator("td").nth(1).inner_text() for i in range(rows.count())]
    assert names == archived
    page.locator("th a", has_text="name").click()
    page.wait_for_selector("th[aria-sort=descending]")
    names = [rows.nth(i).locator("td").nth(1).inner_text() for i in range(rows.count())]
    assert names == archived[::-1]
    shot("archived-projects")


def test_an_analyst_picks_a_project_by_name_and_reads_numbers_for_people(
    page, live_server, admin_login, shot, org, emulator
):
    collect(
        org,
        "completions",
        StartTime="2026-10-01",
        EndTime="2026-11-01",
        BucketWidth="1d",
        GroupBy=["project_id", "model"],
    )
    names = [p["name"] for p in emulator.directory_truth()["projects"]]
    project = next(p for p in emulator.directory_truth()["projects"] if names.count(p["name"]) == 1)
    truth = truth_totals(
        emulator.ground_truth(
            "completions",
            start=1790812800,
            end=1793491200,
            bucket_width="1d",
            group_by=["project_id", "model"],
            filters={"project_ids": [project["id"]]},
        )
    )
    admin_login()
    page.goto(f"{live_server.url}/connectors/{org.pk}/tables/completions/?preset=all")
    picker = page.locator("input[name=project]")
    assert picker.get_attribute("list") == "choices-project"
    page.wait_for_selector("[data-chart=chart-main] canvas")  # the page came with its charts
    page.eval_on_selector("[data-chart=chart-main]", "chart => chart.dataset.before = 'yes'")
    picker.fill(project["name"])
    picker.press("Enter")
    page.wait_for_url("**project=**")
    totals = page.locator("tr.totals")
    totals.get_by_text(f"{truth['input_tokens']:,}", exact=True).wait_for()
    legend = page.wait_for_function(  # the project's chart drawn: the names its legend shows
        """() => {
          const canvas = document.querySelector("[data-chart=chart-main]:not([data-before])"
                                                + " canvas");
          const chart = canvas && Chart.getChart(canvas);
          return chart && chart.legend.legendItems.map(item => item.text);
        }"""
    ).json_value()
    assert legend and "(none)" not in legend and all(legend)
    shot("project-by-name")


def test_costs_show_dollars_and_no_total_of_mixed_units(page, live_server, admin_login, shot, org):
    collect(org, "costs", StartTime="2026-10-01", EndTime="2026-11-01", GroupBy=["line_item"])
    admin_login()
    page.goto(f"{live_server.url}/connectors/{org.pk}/tables/costs/?preset=all")
    totals = page.locator("tr.totals")
    amount = totals.locator("td.num").first
    assert amount.inner_text().startswith("$")
    assert amount.get_attribute("title")  # the exact amount on hover
    assert "mixed units" in totals.inner_text()
    page.wait_for_selector("[data-chart=chart-main] canvas")
    shot("costs")
    why = totals.locator(".blank-why")
    assert "tokens" in why.get_attribute("title")  # why the total is blank
    why.scroll_into_view_if_needed()
    page.locator("#table-data table").screenshot(path=ARTIFACTS / "costs-quantity-total.png")
