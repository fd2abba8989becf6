"""FOCUS costs through the Data API: `GET /v1/focus/costs` with a Data API key, over
real HTTP, the same charges as the costs page's Export FOCUS CSV."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import httpx
import pytest

from connectors.dataapi import keys
from connectors.models import Connector
from connectors.openai.emulator.truth import totals as truth_totals
from tests.collection.conftest import epoch, run_now
from tests.focus import rules

OCTOBER, NOVEMBER = epoch("2026-10-01"), epoch("2026-11-01")
URL = "/v1/focus/costs"


@pytest.fixture(autouse=True)
def no_rate_limit(settings):
    settings.DATA_API_REQUESTS_PER_MINUTE = 0


@pytest.fixture
def api(live_server):
    with httpx.Client(base_url=live_server.url, timeout=60) as client:
        yield client


@pytest.fixture
def collected(transactional_db, make_task):
    """October's costs by project and line item, and a second, ungrouped task over the
    second half of it."""
    by_line = make_task(
        "costs", StartTime="2026-10-01", EndTime="2026-11-01", GroupBy=["project_id", "line_item"]
    )
    late = make_task("costs", StartTime="2026-10-15", EndTime="2026-11-01")
    for task in (by_line, late):
        assert run_now(task).status == "succeeded"
    return by_line


def charges(response: httpx.Response) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(response.text))
    return list(reader.fieldnames or []), list(reader)


def test_it_answers_a_key_with_the_months_charges(api, collected, emulator):
    secret = keys.key_create("FinOps").secret
    params = {"start": "2026-10-01", "end": "2026-11-01", "connector": collected.connector_id}
    response = api.get(URL, params=params, headers={"ApiKey": secret})
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"].startswith("text/csv")
    header, rows = charges(response)
    assert rules.problems(header, rows) == []
    truth = emulator.ground_truth("costs", start=OCTOBER, end=NOVEMBER, bucket_width="1d")
    billed = sum((Decimal(r["BilledCost"]) for r in rows), Decimal(0))
    assert billed == Decimal(truth_totals(truth)["amount.value"])
    assert {r["x_TaskId"] for r in rows} == {str(collected.pk)}


def test_it_answers_401_without_a_key(api, collected):
    response = api.get(URL, params={"start": "2026-10-01"})
    assert response.status_code == 401
    assert "Data API key" in response.json()["error"]
    wrong = api.get(URL, headers={"ApiKey": "dh_000000000000_nope"})
    assert wrong.status_code == 401


def test_it_says_what_is_wrong_with_a_request(api, collected):
    headers = {"Authorization": f"Bearer {keys.key_create('FinOps').secret}"}
    cases = [
        ({"start": "October"}, 400, "start must be a UTC day (YYYY-MM-DD)"),
        ({"start": "2026-10-05", "end": "2026-10-01"}, 400, "end must be after start"),
        ({"month": "2026-10"}, 400, "Unknown parameter month"),
        ({"connector": "99999"}, 404, "No connector 99999 for this key."),
        ({"connector": str(2**63)}, 400, "connector must be from 1 to"),
    ]
    for params, status, words in cases:
        response = api.get(URL, params=params, headers=headers)
        assert response.status_code == status, params
        assert words in response.json()["error"]
    ancient = {"start": "0001-01-01", "end": "2019-01-01"}
    response = api.get(URL, params=ancient, headers=headers)
    assert response.status_code == 200 and response.text.count("\n") == 1  # the header


def test_it_reads_only_the_keys_connectors(api, collected):
    other = Connector.objects.create(kind="openai", name="Other org", base_url="http://x.test/v1")
    secret = keys.key_create("Other only", connectors=[other]).secret
    response = api.get(URL, headers={"ApiKey": secret})
    header, rows = charges(response)
    assert response.status_code == 200 and "BilledCost" in header and rows == []
    refused = api.get(URL, params={"connector": collected.connector_id}, headers={"ApiKey": secret})
    assert refused.status_code == 404
