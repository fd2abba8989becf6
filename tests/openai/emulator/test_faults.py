"""Injected faults, per request (X-Emulator-* headers) and for the whole server."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from connectors.openai.emulator import DEMO_ADMIN_KEY, FaultConfig
from tests.fixtures_emulator import EMULATOR_NOW

PATH = f"/organization/usage/completions?start_time={EMULATOR_NOW - 86400}"


def _with(client, fault: str) -> httpx.Response:
    return client.get(PATH, headers={"X-Emulator-Fault": fault})


def test_it_answers_429_with_retry_after(emulator_client):
    response = emulator_client.get(
        PATH, headers={"X-Emulator-Fault": "429", "X-Emulator-Retry-After": "7"}
    )
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert response.json()["error"]["code"] == "rate_limit_exceeded"


@pytest.mark.parametrize("status", ["500", "503"])
def test_it_answers_server_errors_in_the_error_envelope(emulator_client, status):
    response = _with(emulator_client, status)
    assert response.status_code == int(status)
    assert response.json()["error"]["type"] == "server_error"


def test_it_answers_502_from_the_gateway_in_html(emulator_client):
    response = _with(emulator_client, "502")
    assert response.status_code == 502
    assert response.headers["content-type"] == "text/html"
    assert b"Bad Gateway" in response.content


@pytest.mark.parametrize("fault", ["truncate", "malformed"])
def test_it_sends_bodies_that_are_not_json(emulator_client, fault):
    response = _with(emulator_client, fault)
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_it_drops_the_connection_in_process(emulator_client):
    with pytest.raises(httpx.RemoteProtocolError):
        _with(emulator_client, "drop")


def test_it_drops_the_connection_over_http(emulator_server):
    headers = {"Authorization": f"Bearer {DEMO_ADMIN_KEY}", "X-Emulator-Fault": "drop"}
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(emulator_server.base_url + PATH, headers=headers)
    headers["X-Emulator-Fault"] = "none"
    assert httpx.get(emulator_server.base_url + PATH, headers=headers).status_code == 200


def test_it_slows_responses_down(emulator_client):
    began = time.monotonic()
    emulator_client.get(PATH, headers={"X-Emulator-Latency-Ms": "150"})
    assert time.monotonic() - began >= 0.15


def test_it_fails_the_next_requests_then_recovers(emulator, emulator_client):
    emulator.faults.fail_next("503", times=2)
    statuses = [emulator_client.get(PATH).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]


def test_it_fails_the_nth_request(emulator, emulator_client):
    emulator.faults.configure(FaultConfig(fail_nth={2: "429", 4: "drop"}))
    outcomes = []
    for _ in range(5):
        try:
            outcomes.append(emulator_client.get(PATH).status_code)
        except httpx.RemoteProtocolError:
            outcomes.append("dropped")
    assert outcomes == [200, 429, 200, "dropped", 200]


def test_it_injects_random_faults_reproducibly_from_a_seed(emulator, emulator_client):
    def run() -> list[int]:
        emulator.faults.configure(FaultConfig(rate_429=0.2, rate_5xx=0.2, seed=5))
        return [emulator_client.get(PATH).status_code for _ in range(60)]

    first, second = run(), run()
    assert first == second
    assert {200, 429} <= set(first) and set(first) & {500, 502, 503}
    assert 10 < first.count(200) < 50


def test_it_logs_faulted_requests(emulator, emulator_client):
    _with(emulator_client, "429")
    record = emulator.log.records[-1]
    assert (record.status, record.fault) == (429, "429")
