"""An analyst narrows the costs table to one project, then downloads it as FOCUS."""

from __future__ import annotations

import csv
from decimal import Decimal

import pytest

from connectors.openai.emulator.truth import totals as truth_totals
from tests.browser.test_data_pages import collect, org
from tests.collection.conftest import epoch
from tests.focus import rules

__all__ = ["org"]  # the fixture, shared with the data pages' journeys

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_analyst_downloads_one_projects_costs_as_focus(
    page, live_server, admin_login, shot, org, emulator
):
    groups = ["project_id", "line_item"]
    collect(org, "costs", StartTime="2026-10-01", EndTime="2026-11-01", GroupBy=groups)
    project = emulator.directory_truth()["projects"][1]
    admin_login()
    page.goto(
        f"{live_server.url}/connectors/{org.pk}/tables/costs/"
        "?preset=custom&start=2026-10-01&end=2026-10-31"
    )
    page.fill("#table-filters input[name=project]", project["id"])
    page.click("#table-filters button[type=submit]")
    page.wait_for_url(f"**project={project['id']}**")
    link = page.get_by_role("link", name="Export FOCUS CSV")
    shot("costs-page")
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == "costs-focus.csv"
    with open(download.value.path(), newline="") as file:
        reader = csv.DictReader(file)
        rows = list(reader)
    assert rules.problems(list(reader.fieldnames), rows) == []
    assert {r["SubAccountName"] for r in rows} == {project["name"]}
    buckets = emulator.ground_truth(
        "costs",
        start=epoch("2026-10-01"),
        end=epoch("2026-11-01"),
        bucket_width="1d",
        filters={"project_ids": [project["id"]]},
    )
    billed = sum((Decimal(r["BilledCost"]) for r in rows), Decimal(0))
    assert billed == Decimal(truth_totals(buckets)["amount.value"])
