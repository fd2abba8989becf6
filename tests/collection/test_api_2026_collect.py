"""Our own requests pass the strict emulator, and the 2026 additions land in the tables."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.models import ApiKeyEntry, UserEntry
from connectors.openai.client import AdminClient
from connectors.openai.collector import usage_params
from connectors.openai.emulator import DEMO_ADMIN_KEY
from connectors.openai.plan import StreamQuery
from connectors.openai.streams import STREAMS, USAGE_STREAMS
from tests.collection.conftest import run_now, table_rows, truth_rows
from tests.fixtures_emulator import EMULATOR_BASE_URL, EMULATOR_NOW

START = datetime.fromtimestamp(EMULATOR_NOW - 4 * 86400, UTC)


def _sample(param, org) -> object:
    """A value a user could have saved for this filter."""
    if param.kind == "tristate":
        return False
    if param.choices:
        return list(param.choices[:2])
    if param.api == "project_ids":
        return [p.id for p in org.projects[:2]]
    if param.api == "line_items":
        return ["gpt-4o-2024-08-06, input", "code interpreter"]
    return [f"{param.id_prefix}example"]


@pytest.mark.parametrize("stream", USAGE_STREAMS, ids=lambda s: s.type)
def test_our_requests_with_every_filter_and_grouping_pass_the_strict_emulator(emulator, stream):
    query = StreamQuery(
        stream=stream,
        start=START,
        end=START.replace(hour=6),
        width=stream.bucket_widths[-1],
        group_by=stream.group_by,
        filters={p.api: _sample(p, emulator.org()) for p in stream.filters},
    )
    client = AdminClient(DEMO_ADMIN_KEY, EMULATOR_BASE_URL, transport=emulator.transport())
    with client:
        page = client.get(stream.path, usage_params(query, START))
    assert page["object"] == "page"


def test_our_requests_never_carry_an_empty_value_or_a_foreign_parameter():
    stream = STREAMS["costs"]
    query = StreamQuery(
        stream=stream,
        start=START,
        width="1d",
        group_by=("project_id", "model"),  # model: saved by a generic task, not for costs
        filters={"project_ids": [" ", ""], "api_key_ids": [], "line_items": ["a, b"]},
    )
    params = usage_params(query, START)
    assert params == {
        "start_time": int(START.timestamp()),
        "bucket_width": "1d",
        "limit": 180,
        "group_by": ["project_id"],
        "line_items": ["a, b"],
    }


def test_it_collects_costs_of_chosen_line_items_by_user_and_source(make_task, emulator):
    task = make_task(
        "costs",
        StartTime="2026-10-01",
        EndTime="2026-10-08",
        GroupBy=["line_item", "user_id", "api_source"],
        LineItems=["gpt-5-2025-08-07, input", "gpt-5-2025-08-07, cache write 12h"],
    )
    run = run_now(task)
    assert run.status == "succeeded", run.error
    rows = table_rows(task, "costs")
    assert rows == truth_rows(emulator, task, "costs")
    line_item = [d.api for d in STREAMS["costs"].dimensions].index("line_item")
    assert {dims[line_item] for _, dims in rows} == {
        "gpt-5-2025-08-07, input",
        "gpt-5-2025-08-07, cache write 12h",
    }


def _epoch(moment: datetime | None) -> int | None:
    return int(moment.timestamp()) if moment else None


def test_it_keeps_key_expiry_and_the_newer_user_fields(make_task, emulator):
    for query_type in ("users", "api_keys"):
        assert run_now(make_task(query_type)).status == "succeeded"
    truth = emulator.directory_truth()
    for user in truth["users"]:
        entry = UserEntry.objects.get(openai_id=user["id"])
        assert entry.is_service_account == user["is_service_account"]
        assert _epoch(entry.api_key_last_used_at) == user["api_key_last_used_at"]
        assert entry.projects == user["projects"]["data"]
    keys = [k for keys in truth["api_keys"].values() for k in keys]
    assert any(k["expires_at"] for k in keys)
    for key in keys:
        entry = ApiKeyEntry.objects.get(openai_id=key["id"])
        assert _epoch(entry.expires_at) == key["expires_at"]
