"""A faithful local emulator of the OpenAI Admin API (usage, costs, directory).

    from connectors.openai.emulator import Emulator, DEMO_ADMIN_KEY, serve_in_thread

    emulator = Emulator(seed=42, now="2026-11-01T00:00:00Z")
    client = httpx.Client(transport=emulator.transport(), base_url="http://emulator/v1")
    with serve_in_thread(emulator) as server:
        ...  # server.base_url == "http://127.0.0.1:<port>/v1"

See docs/emulator.md.
"""

from __future__ import annotations

from connectors.openai.emulator.emulator import (
    DEFAULT_SEED,
    DEMO_ADMIN_KEY,
    DEMO_NO_USAGE_KEY,
    DEMO_PROJECT_KEY,
    DEMO_SVCACCT_KEY,
    Emulator,
    KeyGrant,
)
from connectors.openai.emulator.faults import FAULT_KINDS, FaultConfig
from connectors.openai.emulator.log import RequestLog, RequestRecord
from connectors.openai.emulator.server import RunningServer, serve, serve_in_thread
from connectors.openai.emulator.truth import totals

__all__ = [
    "DEFAULT_SEED",
    "DEMO_ADMIN_KEY",
    "DEMO_NO_USAGE_KEY",
    "DEMO_PROJECT_KEY",
    "DEMO_SVCACCT_KEY",
    "FAULT_KINDS",
    "Emulator",
    "FaultConfig",
    "KeyGrant",
    "RequestLog",
    "RequestRecord",
    "RunningServer",
    "serve",
    "serve_in_thread",
    "totals",
]
