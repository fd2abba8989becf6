"""The Data API over real HTTP: Django's live server, data collected from the emulator."""

from __future__ import annotations

import httpx
import pytest

from connectors.dataapi import keys
from connectors.models import Connector, Task
from connectors.openai.emulator import DEMO_ADMIN_KEY
from connectors.openai.streams import USAGE_STREAMS
from tests.collection.conftest import fast_retries, live_connector, make_task, run_now

__all__ = ["fast_retries", "live_connector", "make_task"]

START, END = "2026-10-20", "2026-10-23"


def all_parameters(width: str = "1d") -> dict:
    """An `all` task grouped by every dimension of each stream, over three days."""
    params: dict = {"type": "all", "projects-IncludeArchived": True}
    for stream in USAGE_STREAMS:
        params |= {
            f"{stream.type}-StartTime": START,
            f"{stream.type}-EndTime": END,
            f"{stream.type}-BucketWidth": "1d" if stream.type == "costs" else width,
            f"{stream.type}-GroupBy": list(stream.group_by),
        }
    return params


@pytest.fixture(autouse=True)
def no_rate_limit(settings):
    """Reading a table to its end asks many pages at once: the rate limit has its own test."""
    settings.DATA_API_REQUESTS_PER_MINUTE = 0


@pytest.fixture
def collected(live_connector) -> Task:
    """Every table of one connector, collected from the emulator."""
    task = Task.objects.create(
        connector=live_connector, name="Everything", query_type="all", parameters=all_parameters()
    )
    run = run_now(task)
    assert run.status == "succeeded", run.error
    return task


@pytest.fixture
def second_connector(emulator_server) -> Connector:
    """Another organization (the same emulator), with completions of its own."""
    connector = Connector(
        kind="openai", name="Second org", base_url=emulator_server.base_url, requests_per_minute=0
    )
    connector.set_admin_key(DEMO_ADMIN_KEY)
    connector.save()
    params = {
        "type": "completions",
        "completions-StartTime": START,
        "completions-EndTime": END,
        "completions-BucketWidth": "1d",
        "completions-GroupBy": ["project_id"],
    }
    task = Task.objects.create(connector=connector, query_type="completions", parameters=params)
    assert run_now(task).status == "succeeded"
    return connector


@pytest.fixture
def api(live_server):
    with httpx.Client(base_url=live_server.url, timeout=60) as client:
        yield client


@pytest.fixture
def secret(transactional_db) -> str:
    """A key for every connector."""
    return keys.key_create("Warehouse").secret


def get(api: httpx.Client, secret: str, table: str, **params) -> httpx.Response:
    return api.get(f"/v1/resultDatabase/{table}/paged", params=params, headers={"ApiKey": secret})
