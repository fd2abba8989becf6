"""The costs table as FOCUS 1.2: every column FOCUS requires, values of the right type
and allowed, and the charges of a month of emulated costs adding up to the emulator's
own total, each day once however many tasks collected it."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from django.urls import reverse

from connectors.explore import focus
from connectors.models import ProjectEntry
from connectors.openai.emulator.truth import totals as truth_totals
from tests.collection.conftest import epoch, run_now
from tests.focus import rules

OCTOBER, NOVEMBER = epoch("2026-10-01"), epoch("2026-11-01")
EVERY_DIMENSION = ["project_id", "line_item", "api_key_id", "user_id", "api_source"]
README = Path(__file__).resolve().parents[2] / "README.md"


def export(client, connector, **params) -> tuple[list[str], list[dict[str, str]]]:
    url = reverse("connectors:table-focus-export", args=[connector.pk, "costs"])
    response = client.get(url, params)
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode()
    reader = csv.DictReader(io.StringIO(text))
    return list(reader.fieldnames or []), list(reader)


def october(client, connector, **params):
    month = {"preset": "custom", "start": "2026-10-01", "end": "2026-10-31"}
    return export(client, connector, **month, **params)


def spend(emulator, **filters) -> Decimal:
    buckets = emulator.ground_truth(
        "costs", start=OCTOBER, end=NOVEMBER, bucket_width="1d", filters=filters
    )
    return Decimal(truth_totals(buckets)["amount.value"])


def billed(rows: list[dict[str, str]]) -> Decimal:
    return sum((Decimal(r["BilledCost"]) for r in rows), Decimal(0))


def tasks_per_day(rows: list[dict[str, str]]) -> dict[str, set[str]]:
    found = defaultdict(set)
    for row in rows:
        found[row["ChargePeriodStart"]].add(row["x_TaskId"])
    return found


@pytest.fixture
def detailed(make_task):
    """October's costs grouped by every dimension OpenAI offers."""
    task = make_task("costs", StartTime="2026-10-01", EndTime="2026-11-01", GroupBy=EVERY_DIMENSION)
    run = run_now(task)
    assert run.status == "succeeded", run.error
    return task


def test_it_meets_focus_column_requirements(viewer_client, detailed):
    header, rows = october(viewer_client, detailed.connector)
    assert rows
    assert rules.problems(header, rows) == []
    assert {r["ChargePeriodStart"][:10] for r in rows} >= {"2026-10-01", "2026-10-31"}
    first = rows[0]
    assert first["BillingPeriodStart"] == "2026-10-01T00:00:00Z"
    assert first["BillingPeriodEnd"] == "2026-11-01T00:00:00Z"
    assert first["BillingCurrency"] == "USD"
    assert first["BillingAccountName"] == detailed.connector.name


def test_it_bills_the_emulators_month_to_the_cent(viewer_client, detailed, emulator):
    _, rows = october(viewer_client, detailed.connector)
    expected = spend(emulator)
    assert billed(rows).quantize(Decimal("0.01")) == expected.quantize(Decimal("0.01"))
    assert billed(rows) == expected  # and exactly
    quantities = {r["SkuId"]: r["PricingUnit"] for r in rows}
    assert "Tokens" in quantities.values()


def test_it_names_projects_and_keys_from_the_directory(viewer_client, detailed, emulator):
    _, rows = october(viewer_client, detailed.connector)
    directory = emulator.directory_truth()
    projects = {p["id"]: p["name"] for p in directory["projects"]}
    named = {r["SubAccountId"]: r["SubAccountName"] for r in rows if r["SubAccountId"]}
    assert named == {pid: projects[pid] for pid in named}
    keys = {k["id"]: k["name"] for listed in directory["api_keys"].values() for k in listed}
    found = {r["ResourceId"]: r["ResourceName"] for r in rows if r["ResourceId"]}
    assert {k: name for k, name in found.items() if k in keys} == {
        k: keys[k] for k in found if k in keys
    }
    assert any(found.values())
    assert {r["ResourceType"] for r in rows if r["ResourceId"]} == {"API key"}


def test_it_keeps_spreadsheets_from_running_names(viewer_client, detailed):
    """A project named like a formula is written as text a spreadsheet shows, not runs."""
    entry = ProjectEntry.objects.filter(connector=detailed.connector).first()
    entry.name = '=HYPERLINK("http://x.test","click")'
    entry.save()
    _, rows = october(viewer_client, detailed.connector, project=entry.openai_id)
    assert rows and {r["SubAccountName"] for r in rows} == {"'" + entry.name}


def test_it_keeps_the_pages_filters(viewer_client, detailed, emulator):
    project = emulator.directory_truth()["projects"][0]["id"]
    _, rows = october(viewer_client, detailed.connector, project=project)
    assert rows and {r["SubAccountId"] for r in rows} == {project}
    assert billed(rows) == spend(emulator, project_ids=[project])


def test_it_counts_each_day_of_overlapping_tasks_once(viewer_client, make_task, emulator):
    """A task by line item over the first part of October and an ungrouped one over all
    of it: the days both collected come from one of them (the one with the line items),
    the rest from the other, and the month adds up to the emulator's once."""
    by_line = make_task(
        "costs", StartTime="2026-10-01", EndTime="2026-10-20", GroupBy=["project_id", "line_item"]
    )
    whole = make_task("costs", StartTime="2026-10-01", EndTime="2026-11-01")
    for task in (by_line, whole):
        assert run_now(task).status == "succeeded"
    _, rows = october(viewer_client, by_line.connector)
    days = tasks_per_day(rows)
    assert len(days) == 31 and all(len(tasks) == 1 for tasks in days.values())
    for day, (task,) in days.items():
        assert task == str(by_line.pk if day < "2026-10-20" else whole.pk), day
    assert billed(rows) == spend(emulator)
    assert all(r["SkuId"] for r in rows if r["x_TaskId"] == str(by_line.pk))


def test_it_is_linked_from_the_costs_table_only(viewer_client, detailed):
    connector = detailed.connector
    url = reverse("connectors:table-detail", args=[connector.pk, "costs"])
    html = viewer_client.get(url, {"preset": "last_month", "project": "proj_x"}).content.decode()
    link = reverse("connectors:table-focus-export", args=[connector.pk, "costs"])
    assert f'href="{link}?preset=last_month&amp;project=proj_x"' in html
    assert "Export FOCUS CSV" in html
    other = reverse("connectors:table-detail", args=[connector.pk, "completions"])
    assert "Export FOCUS CSV" not in viewer_client.get(other).content.decode()
    refused = reverse("connectors:table-focus-export", args=[connector.pk, "completions"])
    assert viewer_client.get(refused).status_code == 404


def test_it_documents_every_column_in_the_readme():
    assert focus.markdown_table() in README.read_text()
