"""Costs collected from the emulator over HTTP, as a worker collects them."""

from __future__ import annotations

from tests.collection.conftest import fast_retries, live_connector, make_task

__all__ = ["fast_retries", "live_connector", "make_task"]
