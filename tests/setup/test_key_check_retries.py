"""Saving a connector checks its key: a passing 429, 5xx or dropped connection is retried
within a few seconds, Retry-After honoured; a rejected key fails at once."""

from __future__ import annotations

from connectors.openai.emulator import DEMO_ADMIN_KEY, FaultConfig
from connectors.setup import services

WRONG_ADMIN_KEY = "sk-admin-this-key-was-revoked-long-ago-9999"


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def statuses(emulator) -> list[int | None]:
    return [record.status for record in emulator.log.records]


def test_it_saves_every_connector_through_a_30_percent_429_rate(db, emulator_server):
    emulator = emulator_server.emulator
    emulator.faults.configure(FaultConfig(rate_429=0.3, retry_after=0, seed=14))
    outcomes = [
        services.connector_create(
            kind="openai",
            name=f"Org {i}",
            description="",
            base_url=emulator_server.base_url,
            admin_key=DEMO_ADMIN_KEY,
        )
        for i in range(40)
    ]
    assert [error for _, error in outcomes] == [""] * 40
    assert all(connector.pk for connector, _ in outcomes)
    assert statuses(emulator).count(429) >= 20  # without retries most saves would fail


def test_it_waits_as_long_as_retry_after_says(emulator_server):
    emulator = emulator_server.emulator
    emulator.faults.configure(FaultConfig(retry_after=2))
    emulator.faults.fail_next("429", times=2)
    sleeps = Sleeps()
    assert services.key_check(DEMO_ADMIN_KEY, emulator_server.base_url, sleep=sleeps) == ""
    assert sleeps == [2.0, 2.0]
    assert statuses(emulator) == [429, 429, 200, 200]


def test_it_retries_server_errors_and_dropped_connections(emulator_server):
    emulator = emulator_server.emulator
    for kind in ("503", "drop", "502", "500"):
        emulator.faults.fail_next(kind)
    sleeps = Sleeps()
    assert services.key_check(DEMO_ADMIN_KEY, emulator_server.base_url, sleep=sleeps) == ""
    assert len(sleeps) == 4
    assert statuses(emulator) == [503, None, 502, 500, 200, 200]


def test_it_reports_at_once_when_retry_after_is_past_the_budget(emulator_server):
    emulator = emulator_server.emulator
    emulator.faults.configure(FaultConfig(retry_after=60))
    emulator.faults.fail_next("429")
    sleeps = Sleeps()
    error = services.key_check(DEMO_ADMIN_KEY, emulator_server.base_url, sleep=sleeps)
    assert "rate limiting this organization (429)" in error and "Try again" in error
    assert sleeps == []
    assert statuses(emulator) == [429]


def test_it_fails_a_rejected_key_at_once_without_retries(emulator_server):
    sleeps = Sleeps()
    error = services.key_check(WRONG_ADMIN_KEY, emulator_server.base_url, sleep=sleeps)
    assert "invalid or revoked (401" in error
    assert sleeps == []
    assert statuses(emulator_server.emulator) == [401]


def test_it_says_at_once_when_nothing_listens_at_the_base_url(closed_port_url):
    sleeps = Sleeps()
    error = services.key_check(DEMO_ADMIN_KEY, closed_port_url, sleep=sleeps)
    assert error.startswith("Cannot connect to")
    assert sleeps == []
