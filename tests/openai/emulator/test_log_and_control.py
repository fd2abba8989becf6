"""The request log and the test-only /_emulator/ endpoints (reset, clock, faults)."""

from __future__ import annotations

import time

import httpx

from connectors.openai.emulator import DEMO_ADMIN_KEY
from tests.fixtures_emulator import EMULATOR_NOW

COMPLETIONS = "/organization/usage/completions"


def test_it_counts_requests_per_endpoint_and_parameters(emulator, emulator_client):
    start = EMULATOR_NOW - 45 * 86400
    page = emulator_client.get(COMPLETIONS, params={"start_time": start, "limit": 31}).json()
    emulator_client.get(
        COMPLETIONS, params={"start_time": start, "limit": 31, "page": page["next_page"]}
    )
    emulator_client.get("/organization/projects", params={"limit": 100})
    assert emulator.log.count(COMPLETIONS) == 2
    assert emulator.log.count(COMPLETIONS, page=page["next_page"]) == 1
    assert emulator.log.count("/organization/*") == 3
    assert emulator.log.by_path() == {COMPLETIONS: 2, "/organization/projects": 1}
    assert [r.number for r in emulator.log.records] == [1, 2, 3]


def test_it_records_bracketed_arrays_under_their_plain_name(emulator, emulator_client):
    emulator_client.get(COMPLETIONS, params={"start_time": 1, "group_by[]": ["model", "batch"]})
    assert emulator.log.records[0].params["group_by"] == ["model", "batch"]


def test_it_exposes_the_log_reset_and_clock_over_http(emulator_server):
    root, headers = emulator_server.root_url, {"Authorization": f"Bearer {DEMO_ADMIN_KEY}"}
    httpx.get(f"{emulator_server.base_url}/organization/projects", headers=headers)
    log = httpx.get(f"{root}/_emulator/requests").json()
    assert log["count"] == 1 and log["by_path"] == {"/organization/projects": 1}
    assert log["requests"][0]["status"] == 200
    assert httpx.post(f"{root}/_emulator/clock", json={"advance": 60}).json() == {
        "now": EMULATOR_NOW + 60
    }
    moment = httpx.post(f"{root}/_emulator/clock", json={"now": "2026-12-01T00:00:00Z"}).json()
    assert moment == {"now": 1796083200} and emulator_server.emulator.now() == 1796083200
    httpx.post(f"{root}/_emulator/reset")
    assert httpx.get(f"{root}/_emulator/requests").json()["count"] == 0
    assert httpx.get(f"{root}/_emulator/clock").json() == {"now": EMULATOR_NOW}


def test_it_configures_faults_over_http(emulator_server):
    root, headers = emulator_server.root_url, {"Authorization": f"Bearer {DEMO_ADMIN_KEY}"}
    config = httpx.post(f"{root}/_emulator/faults", json={"fail_nth": {"1": "503"}}).json()
    assert config["fail_nth"] == {"1": "503"}
    url = f"{emulator_server.base_url}/organization/projects"
    assert [httpx.get(url, headers=headers).status_code for _ in range(2)] == [503, 200]
    assert httpx.post(f"{root}/_emulator/faults", json={"rate_9xx": 1}).status_code == 400


def test_it_follows_the_real_clock_when_not_fixed(emulator):
    emulator.set_now(None)
    assert abs(emulator.now() - time.time()) < 5
