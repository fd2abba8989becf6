"""The whole journey in a real browser, against the emulator and a real Celery worker:
log in, Add Connector, Add Task, Run now, watch the progress bar reach success, open the
table, filter by a project, see the charts, export CSV — with the totals on screen and in
the CSV equal to the ground truth."""

from __future__ import annotations

import csv
from decimal import Decimal

import pytest

from connectors.models import Task
from connectors.openai.emulator import DEMO_ADMIN_KEY, FaultConfig
from connectors.openai.emulator import totals as truth_totals
from tests.collection.conftest import epoch

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_it_collects_and_shows_what_a_user_asked_for(
    page, live_server, admin_login, emulator_server, emulator, start_worker, shot, tmp_path
):
    emulator.faults.configure(FaultConfig(latency_ms=150))  # slow enough to watch progress
    start_worker()
    admin_login()
    page.click("text=Add Connector >> nth=0")
    page.click(".tile:has-text('OpenAI')")
    page.fill("#id_name", "Acme")
    page.fill("#id_admin_key", DEMO_ADMIN_KEY)
    page.click("summary:has-text('Advanced')")
    page.fill("#id_base_url", emulator_server.base_url)
    page.fill("#id_requests_per_minute", "0")
    page.click("button:has-text('Save')")
    page.wait_for_selector("text=key verified")
    shot("1-connector")

    page.click("text=Add Task")
    page.wait_for_url("**/tasks/add/")
    page.wait_for_load_state("load")  # htmx has taken over the QUERY TYPE select
    page.select_option("select[name=type]", "completions")
    page.wait_for_selector("input[name=completions-StartTime]")
    page.fill("input[name=name]", "October by project and model")
    page.fill("input[name=completions-StartTime]", "2026-10-01")
    page.fill("input[name=completions-EndTime]", "2026-11-01")
    page.check("input[name=completions-GroupBy][value=project_id]")
    page.check("input[name=completions-GroupBy][value=model]")
    page.click("button:has-text('Save')")
    page.wait_for_url(f"{live_server.url}/tasks/*/")  # the saved task's page
    page.wait_for_selector("text=Request estimate")
    shot("2-task")

    page.click("button:has-text('Run now')")
    page.wait_for_selector("progress.runbar")
    shot("3-progress")
    page.wait_for_selector("#task-history >> text=Succeeded", timeout=90_000)
    shot("4-succeeded")

    project = emulator.directory_truth()["projects"][0]
    page.goto(f"{live_server.url}/connectors/{Task.objects.get().connector_id}/tables/")
    page.click("a:has-text('completions')")
    page.wait_for_load_state("networkidle")  # htmx has loaded: filters swap the table
    page.select_option("select[name=preset]", "all")
    page.fill("input[name=project]", project["id"])
    page.click("button:has-text('Apply')")
    page.wait_for_selector(f"span[title='{project['id']}']")
    page.wait_for_selector("#table-charts [data-chart] canvas")
    shot("5-table-filtered")

    # Sorting is one more step in the history; Back returns to the filtered page with
    # the filters the form showed (not the ones it was first drawn with).
    page.click("th a:has-text('inputTokens')")
    page.wait_for_url("**sort=inputTokens**")
    page.go_back()
    # The page itself is back, not only its address.
    page.wait_for_selector("th:has-text('↑')", state="detached")
    page.wait_for_selector(f"span[title='{project['id']}']")
    assert page.input_value("select[name=preset]") == "all"
    assert page.input_value("input[name=project]") == project["id"]
    page.wait_for_selector("#table-charts [data-chart] canvas")

    buckets = emulator.ground_truth(
        "completions",
        start=epoch("2026-10-01"),
        end=epoch("2026-11-01"),
        bucket_width="1d",
        group_by=["project_id", "model"],
        filters={"project_ids": [project["id"]]},
    )
    expected = truth_totals(buckets)["input_tokens"]
    totals_row = page.inner_text("tr.totals")
    assert f"{expected:,}" in totals_row.split()  # numbers for people

    with page.expect_download() as download:
        page.click("text=Export CSV")
    path = tmp_path / "completions.csv"
    download.value.save_as(path)
    header, *rows = list(csv.reader(path.open()))
    assert rows[-1][0] == "totals"
    assert Decimal(rows[-1][header.index("inputTokens")]) == expected
    assert {row[header.index("projectId")] for row in rows[:-1]} == {project["id"]}
