"""Usage and costs buckets: alignment, grouping, dimensions, late data, the registry."""

from __future__ import annotations

import dataclasses
from collections import Counter

from connectors.openai.emulator import emulator as emulator_module
from connectors.openai.emulator import totals
from connectors.openai.emulator.costs import line_item
from connectors.openai.streams import STREAMS, USAGE_STREAMS
from tests.fixtures_emulator import EMULATOR_NOW

DAY, HOUR = 86400, 3600
COMPLETIONS = "/organization/usage/completions"


def _get(client, path: str, **params) -> dict:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_it_starts_usage_buckets_at_start_time_and_ends_the_last_at_now(emulator, emulator_client):
    emulator.set_now(EMULATOR_NOW + 10 * HOUR + 123)
    start = EMULATOR_NOW - 2 * DAY + 17 * HOUR + 31 * 60
    page = _get(emulator_client, COMPLETIONS, start_time=start)
    edges = [(b["start_time"], b["end_time"]) for b in page["data"]]
    assert edges == [
        (start, EMULATOR_NOW - DAY),
        (EMULATOR_NOW - DAY, EMULATOR_NOW),
        (EMULATOR_NOW, EMULATOR_NOW + 10 * HOUR + 123),
    ]


def test_it_floors_costs_buckets_to_the_utc_day(emulator_client):
    page = _get(emulator_client, "/organization/costs", start_time=EMULATOR_NOW - DAY - 5 * HOUR)
    assert [b["start_time"] for b in page["data"]] == [EMULATOR_NOW - 2 * DAY, EMULATOR_NOW - DAY]


def test_it_returns_empty_buckets_before_the_organization_exists(emulator_client):
    start = 1704067200  # 2024-01-01, a year before the organization
    page = _get(emulator_client, COMPLETIONS, start_time=start, limit=31)
    assert len(page["data"]) == 31 and page["has_more"]
    assert all(bucket["results"] == [] for bucket in page["data"])


def test_it_returns_one_result_per_busy_bucket_without_group_by(emulator_client):
    for stream in USAGE_STREAMS:
        page = _get(emulator_client, stream.path, start_time=EMULATOR_NOW - 31 * DAY, limit=31)
        counts = Counter(len(b["results"]) for b in page["data"])
        assert set(counts) <= {0, 1} and counts[1] > 0, stream.type
        for result in (r for b in page["data"] for r in b["results"]):
            assert result["object"] == stream.result_object
            assert all(result[dim] is None for dim in stream.group_by)


def test_it_returns_one_result_per_combination_of_the_grouped_dimensions(emulator_client):
    page = _get(emulator_client, COMPLETIONS, start_time=EMULATOR_NOW - 7 * DAY,
                group_by=["project_id", "model"])  # fmt: skip
    for bucket in page["data"]:
        keys = [(r["project_id"], r["model"]) for r in bucket["results"]]
        assert len(keys) == len(set(keys)) > 1
        assert all(r["user_id"] is None and r["batch"] is None for r in bucket["results"])
        assert all(project and model for project, model in keys)


def test_it_uses_the_result_objects_of_the_spec():
    assert STREAMS["file_search_calls"].result_object == "organization.usage.file_searches.result"
    assert STREAMS["web_search_calls"].result_object == "organization.usage.web_searches.result"


def test_it_keeps_completions_token_totals_consistent(emulator):
    buckets = emulator.ground_truth("completions", start=EMULATOR_NOW - 3 * DAY, bucket_width="1h",
                                    group_by=["model", "batch"])  # fmt: skip
    for result in (r for b in buckets for r in b["results"]):
        cached = result["input_cached_tokens"]
        uncached = result["input_uncached_tokens"]
        assert result["input_tokens"] == cached + uncached + result["input_cache_write_tokens"]
        modal = ("input_text_tokens", "input_audio_tokens", "input_image_tokens")
        assert uncached == sum(result[name] for name in modal)
        outputs = ("output_text_tokens", "output_audio_tokens", "output_image_tokens")
        assert result["output_tokens"] == sum(result[name] for name in outputs)


def test_it_splits_an_unaligned_range_exactly(emulator):
    start, end = EMULATOR_NOW - DAY + 17 * HOUR + 31 * 60 + 7, EMULATOR_NOW - 3 * 60 - 11
    whole = {}
    for width in ("1d", "1h", "1m"):
        buckets = emulator.ground_truth("embeddings", start=start, end=end, bucket_width=width,
                                        group_by=["api_key_id"])  # fmt: skip
        whole[width] = totals(buckets)
    assert whole["1d"] == whole["1h"] == whole["1m"] and whole["1d"]["input_tokens"] > 0


def test_it_reports_recent_minutes_low_and_grows_them_until_final(emulator):
    start = EMULATOR_NOW - HOUR
    reads = []
    for offset in (0, 5 * 60, 10 * 60, 15 * 60, 2 * HOUR):
        now = EMULATOR_NOW + offset
        reads.append(totals(emulator.ground_truth("completions", start=start, end=EMULATOR_NOW,
                                                  bucket_width="1m", now=now)))  # fmt: skip
    requests = [read["num_model_requests"] for read in reads]
    assert requests[0] < requests[1] < requests[2] < requests[3] == requests[4]


def test_it_keeps_deleted_keys_in_usage_but_not_in_the_directory(emulator):
    deleted = [k for k in emulator.org().keys if k.deleted_at and k.deleted_at < EMULATOR_NOW]
    assert deleted
    key = deleted[0]
    listed = {k["id"] for keys in emulator.directory_truth()["api_keys"].values() for k in keys}
    assert key.id not in listed
    buckets = emulator.ground_truth("completions", start=key.created_at, end=key.deleted_at,
                                    group_by=["api_key_id"])  # fmt: skip
    assert key.id in {r["api_key_id"] for b in buckets for r in b["results"]}


def test_it_shows_never_used_keys_without_usage(emulator):
    unused = [k for k in emulator.org().keys if not k.used]
    assert unused
    truth = emulator.directory_truth()
    listed = {k["id"]: k for keys in truth["api_keys"].values() for k in keys}
    assert all(listed[k.id]["last_used_at"] is None for k in unused if k.id in listed)
    for stream in ("completions", "embeddings"):
        buckets = emulator.ground_truth(
            stream, start=EMULATOR_NOW - 60 * DAY, group_by=["api_key_id"]
        )
        used = {r["api_key_id"] for b in buckets for r in b["results"]}
        assert not used & {k.id for k in unused}


def test_it_brings_new_projects_and_models_over_time(emulator):
    def dims(start: int) -> tuple[set, set]:
        buckets = emulator.ground_truth("completions", start=start, end=start + 14 * DAY,
                                        group_by=["project_id", "model"])  # fmt: skip
        results = [r for b in buckets for r in b["results"]]
        return {r["project_id"] for r in results}, {r["model"] for r in results}

    early_projects, early_models = dims(1736899200)  # January 2025
    late_projects, late_models = dims(EMULATOR_NOW - 14 * DAY)
    assert late_projects - early_projects and late_models - early_models
    created = {p.id: p.created_at for p in emulator.org().projects}
    assert all(created[p] < 1736899200 + 14 * DAY for p in early_projects)


def test_it_prices_costs_from_usage_but_not_at_list_price(emulator):
    start, end = EMULATOR_NOW - 5 * DAY, EMULATOR_NOW - 4 * DAY
    usage = emulator.ground_truth("completions", start=start, end=end,
                                  group_by=STREAMS["completions"].group_by)  # fmt: skip
    list_price = 0
    for result in (r for b in usage for r in b["results"]):
        for leaf in ("input_text_tokens", "input_cached_text_tokens", "output_text_tokens"):
            item = line_item("completions", result, leaf)
            list_price += result[leaf] * item[2] / item[3] / 1e9
    costs = emulator.ground_truth("costs", start=start, end=end, group_by=["line_item"])
    billed = sum(r["amount"]["value"] for b in costs for r in b["results"]
                 if r["line_item"].rsplit(", ", 1)[-1].split(" (")[0] in ("input", "cached input",
                                                                          "output"))  # fmt: skip
    assert billed != list_price
    assert 0.8 * list_price < billed < 1.2 * list_price


def test_it_serves_a_stream_added_to_the_registry(emulator, emulator_client, monkeypatch):
    decisions = dataclasses.replace(
        STREAMS["completions"],
        type="decisions",
        path="/organization/usage/decisions",
        result_object="organization.usage.decisions.result",
    )
    routes = {**emulator_module.USAGE_ROUTES, decisions.path: decisions}
    monkeypatch.setattr(emulator_module, "USAGE_ROUTES", routes)
    page = _get(emulator_client, decisions.path, start_time=EMULATOR_NOW - 7 * DAY,
                group_by="project_id,model")  # fmt: skip
    results = [r for b in page["data"] for r in b["results"]]
    assert results and {r["object"] for r in results} == {decisions.result_object}
    assert all(isinstance(r["input_tokens"], int) for r in results)
