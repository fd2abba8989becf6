"""Fixtures for tests that talk to the OpenAI Admin API emulator.

Loaded by the suite through `pytest_plugins = ["tests.fixtures_emulator"]`. The emulator's
clock is fixed at EMULATOR_NOW, so every number is a pure function of the request.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from connectors.openai.emulator import (
    DEFAULT_SEED,
    DEMO_ADMIN_KEY,
    Emulator,
    RunningServer,
    serve_in_thread,
)

EMULATOR_NOW = 1793491200  # 2026-11-01T00:00:00Z
EMULATOR_BASE_URL = "http://emulator.test/v1"


@pytest.fixture
def emulator() -> Emulator:
    """An in-process emulator of the default organization with its clock at EMULATOR_NOW."""
    return Emulator(seed=DEFAULT_SEED, now=EMULATOR_NOW)


@pytest.fixture
def emulator_transport(emulator: Emulator) -> httpx.BaseTransport:
    return emulator.transport()


@pytest.fixture
def emulator_client(emulator: Emulator) -> Iterator[httpx.Client]:
    """An httpx client on the in-process emulator, authenticated with the demo admin key."""
    headers = {"Authorization": f"Bearer {DEMO_ADMIN_KEY}"}
    with httpx.Client(
        transport=emulator.transport(), base_url=EMULATOR_BASE_URL, headers=headers
    ) as client:
        yield client


@pytest.fixture
def emulator_server(emulator: Emulator) -> Iterator[RunningServer]:
    """The emulator over HTTP on 127.0.0.1 (`.base_url` ends in /v1, `.emulator`)."""
    with serve_in_thread(emulator) as server:
        yield server
