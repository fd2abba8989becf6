"""The 2026 additions as the emulator serves them: the decisions endpoint, api_source,
cache writes by retention, costs by user, and the newer directory fields."""

from __future__ import annotations

from collections import Counter

import pytest

from connectors.openai.emulator import totals
from connectors.openai.streams import STREAMS
from tests.fixtures_emulator import EMULATOR_NOW

DAY = 86400
START, END = EMULATOR_NOW - 10 * DAY, EMULATOR_NOW - 3 * DAY
SOURCES = {"agents_api", "unlabeled"}


def _results(buckets: list[dict]) -> list[dict]:
    return [r for b in buckets for r in b["results"]]


def test_it_serves_decisions_shaped_as_completions(emulator, emulator_client):
    stream = STREAMS["decisions"]
    params = {"start_time": START, "end_time": END, "group_by": "model,api_source"}
    page = emulator_client.get("/organization/usage/decisions", params=params).json()
    results = _results(page["data"])
    assert results, "decisions has usage in the emulated organization"
    for result in results:
        assert result["object"] == "organization.usage.decisions.result"
        assert set(result) == {"object", *(f.api for f in stream.metrics), *stream.group_by}
        assert result["api_source"] in SOURCES
        assert result["project_id"] is None  # not grouped: null
    assert page["data"] == emulator.ground_truth(
        "decisions", start=START, end=END, group_by=["model", "api_source"]
    )


@pytest.mark.parametrize("stream_type", ["completions", "web_search_calls", "decisions", "costs"])
def test_it_reports_api_source_only_when_grouped_and_it_partitions_the_total(emulator, stream_type):
    whole = emulator.ground_truth(stream_type, start=START, end=END)
    by_source = emulator.ground_truth(stream_type, start=START, end=END, group_by=["api_source"])
    assert all(r["api_source"] is None for r in _results(whole))
    assert {r["api_source"] for r in _results(by_source)} == SOURCES
    assert totals(by_source) == totals(whole)


@pytest.mark.parametrize("stream_type", ["completions", "decisions"])
def test_it_splits_cache_writes_into_30m_and_12h(emulator, stream_type):
    buckets = emulator.ground_truth(stream_type, start=START, end=END, group_by=["model"])
    for result in _results(buckets):
        assert result["input_cache_write_tokens"] == (
            result["input_cache_write_30m_tokens"] + result["input_cache_write_12h_tokens"]
        )
        parts = ("input_uncached_tokens", "input_cached_tokens", "input_cache_write_tokens")
        assert result["input_tokens"] == sum(result[p] for p in parts)
    assert totals(buckets)["input_cache_write_12h_tokens"] > 0


def test_it_groups_costs_by_the_user_owning_each_key(emulator):
    start = EMULATOR_NOW - 5 * DAY
    buckets = emulator.ground_truth("costs", start=start, group_by=["api_key_id", "user_id"])
    owners = {k.id: k.user_id for k in emulator.org().keys}
    results = _results(buckets)
    assert any(r["user_id"] for r in results)
    assert any(r["api_key_id"] and r["user_id"] is None for r in results)  # service accounts
    for result in results:
        assert result["user_id"] == owners.get(result["api_key_id"])
    by_user = emulator.ground_truth("costs", start=start, group_by=["user_id"])
    assert totals(by_user) == totals(emulator.ground_truth("costs", start=start))


def test_it_lists_project_keys_with_their_expiry(emulator, emulator_client):
    truth = emulator.directory_truth()
    keys = [k for keys in truth["api_keys"].values() for k in keys]
    assert all("expires_at" in k for k in keys)
    expiring = [k for k in keys if k["expires_at"] is not None]
    assert expiring and all(k["expires_at"] > k["created_at"] for k in expiring)
    project_id, listed = next((p, ks) for p, ks in truth["api_keys"].items() if ks)
    served = emulator_client.get(
        f"/organization/projects/{project_id}/api_keys", params={"owner_project_access": "any"}
    ).json()["data"]
    assert [k["expires_at"] for k in served] == [k["expires_at"] for k in listed[:20]]


def test_an_expired_key_is_no_longer_used(emulator):
    org = emulator.org()
    expired = [k for k in org.keys if k.expires_at and k.expires_at < EMULATOR_NOW and k.used]
    assert expired
    for key in expired:
        buckets = emulator.ground_truth(
            "completions",
            start=key.expires_at // DAY * DAY + DAY,
            end=min(EMULATOR_NOW, key.expires_at + 40 * DAY),
            filters={"api_key_ids": [key.id]},
        )
        assert totals(buckets).get("num_model_requests", 0) == 0


def test_it_lists_users_with_their_projects_and_last_key_use(emulator):
    truth = emulator.directory_truth()
    members = Counter()
    for project_id, users in truth["project_users"].items():
        for user in users:
            members[(user["id"], project_id, user["role"])] += 1
    listed = Counter()
    for user in truth["users"]:
        assert user["is_service_account"] is False
        assert user["projects"]["object"] == "list"
        for project in user["projects"]["data"]:
            listed[(user["id"], project["id"], project["role"])] += 1
    assert listed == members
    for user in truth["users"]:
        owned = [
            k["last_used_at"]
            for keys in truth["api_keys"].values()
            for k in keys
            if k["owner"]["type"] == "user" and k["owner"]["user"]["id"] == user["id"]
        ]
        latest = max((t for t in owned if t), default=None)
        if latest is not None:  # deleted keys (no longer listed) may have been used later
            assert user["api_key_last_used_at"] >= latest
