"""The emulator is as strict as OpenAI, never kinder: what it refuses and what it still
accepts. Each refusal is a 400 in OpenAI's error shape naming the parameter."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.openai.streams import COSTS_API_KEY_SINCE, STREAMS
from tests.fixtures_emulator import EMULATOR_NOW

COMPLETIONS = "/organization/usage/completions"
COSTS = "/organization/costs"
START = EMULATOR_NOW - 3 * 86400


def _refusal(client, url: str, params=None) -> dict:
    response = client.get(url, params=params)
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["code"] is None
    return body["error"]


@pytest.mark.parametrize(
    ("url", "param"),
    [
        (f"{COMPLETIONS}?start_time={START}&foo=1", "foo"),
        (f"{COMPLETIONS}?start_time={START}&vector_store_ids=vs_1", "vector_store_ids"),
        (f"{COSTS}?start_time={START}&user_ids=user-1", "user_ids"),  # costs: no user filter
        (f"{COSTS}?start_time={START}&models=gpt-4o", "models"),
        ("/organization/usage/vector_stores?start_time=1&api_key_ids=key_1", "api_key_ids"),
        ("/organization/projects?emails=a@example.com", "emails"),
        ("/organization/users?include_archived=true", "include_archived"),
        ("/organization/admin_api_keys?owner_project_access=any", "owner_project_access"),
        ("/organization/spend_limit?limit=1", "limit"),
    ],
)
def test_it_refuses_a_parameter_the_endpoint_does_not_take(emulator_client, url, param):
    error = _refusal(emulator_client, url)
    assert error["param"] == param
    assert param in error["message"]


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("project_ids=", "project_ids"),
        ("models[]=", "models"),
        ("group_by=", "group_by"),
        ("group_by=model,", "group_by"),
        ("group_by[]=model&group_by[]=", "group_by"),
        ("user_ids=%20", "user_ids"),
        ("end_time=", "end_time"),
        ("limit=", "limit"),
        ("page=", "page"),
        ("batch=", "batch"),
        ("bucket_width=", "bucket_width"),
    ],
)
def test_it_refuses_an_empty_value(emulator_client, query, param):
    error = _refusal(emulator_client, f"{COMPLETIONS}?start_time={START}&{query}")
    assert error["param"] == param


@pytest.mark.parametrize(
    "url",
    [
        f"{COMPLETIONS}?start_time=",
        f"{COSTS}?start_time={START}&line_items=",
        "/organization/projects?after=",
        "/organization/users?emails=",
    ],
)
def test_it_refuses_empty_values_on_every_kind_of_endpoint(emulator_client, url):
    name = url.rsplit("&", 1)[-1].rsplit("?", 1)[-1].removesuffix("=")
    assert _refusal(emulator_client, url)["param"] == name


@pytest.mark.parametrize("path", [COMPLETIONS, COSTS, "/organization/usage/decisions"])
@pytest.mark.parametrize("length", [0, -3600])
def test_it_refuses_an_empty_or_reversed_range(emulator_client, path, length):
    params = {"start_time": START, "end_time": START + length}
    assert _refusal(emulator_client, path, params)["param"] == "end_time"


def test_it_answers_a_one_second_range(emulator_client):
    params = {"start_time": START, "end_time": START + 1}
    assert emulator_client.get(COMPLETIONS, params=params).status_code == 200


@pytest.mark.parametrize(
    "group_by",
    [
        "group_by=api_key_id",
        "group_by[]=project_id&group_by[]=api_key_id",
        "group_by=project_id,line_item,api_key_id",
    ],
)
def test_it_refuses_costs_by_api_key_id_before_2025_12_06(emulator_client, group_by):
    start = COSTS_API_KEY_SINCE - 1  # one second early is enough (langwatch/langwatch#7579)
    error = _refusal(emulator_client, f"{COSTS}?start_time={start}&{group_by}")
    assert error["param"] == "group_by"
    assert str(COSTS_API_KEY_SINCE) in error["message"]
    assert "2025-12-06" in error["message"]


def test_the_cutoff_is_2025_12_06_utc():
    assert datetime.fromtimestamp(COSTS_API_KEY_SINCE, UTC) == datetime(2025, 12, 6, tzinfo=UTC)


def test_it_answers_costs_by_api_key_id_from_the_cutoff_on(emulator, emulator_client):
    params = {"start_time": COSTS_API_KEY_SINCE, "end_time": COSTS_API_KEY_SINCE + 2 * 86400}
    response = emulator_client.get(COSTS, params={**params, "group_by": "api_key_id"})
    assert response.status_code == 200
    truth = emulator.ground_truth(
        "costs", start=params["start_time"], end=params["end_time"], group_by=["api_key_id"]
    )
    assert response.json()["data"] == truth


@pytest.mark.parametrize("group_by", ["project_id", "line_item", "user_id", "api_source"])
def test_it_answers_earlier_costs_grouped_without_api_key_id(emulator_client, group_by):
    params = {"start_time": COSTS_API_KEY_SINCE - 30 * 86400, "group_by": group_by, "limit": 3}
    assert emulator_client.get(COSTS, params=params).status_code == 200


def test_it_lets_usage_group_by_api_key_id_before_the_costs_cutoff(emulator_client):
    params = {"start_time": COSTS_API_KEY_SINCE - 86400, "group_by": "api_key_id", "limit": 1}
    assert emulator_client.get(COMPLETIONS, params=params).status_code == 200


def test_it_still_accepts_the_three_array_encodings_for_the_new_dimensions(emulator_client):
    base = f"{COSTS}?start_time={START}"
    queries = (
        "&group_by=user_id&group_by=api_source",
        "&group_by[]=user_id&group_by[]=api_source",
        "&group_by=user_id,api_source",
    )
    answers = [emulator_client.get(base + q).json() for q in queries]
    assert "error" not in answers[0]
    assert answers[0] == answers[1] == answers[2]


def test_it_filters_costs_by_whole_line_item_names(emulator, emulator_client):
    end = START + 2 * 86400
    by_item = emulator.ground_truth("costs", start=START, end=end, group_by=["line_item"])
    names = sorted({r["line_item"] for b in by_item for r in b["results"]})
    wanted = [n for n in names if "," in n][:2]  # names hold commas: never split them
    assert len(wanted) == 2
    params = [("start_time", START), ("end_time", end), ("group_by", "line_item")]
    params += [("line_items", name) for name in wanted]
    served = emulator_client.get(COSTS, params=params).json()["data"]
    assert {r["line_item"] for b in served for r in b["results"]} == set(wanted)
    truth = emulator.ground_truth(
        "costs", start=START, end=end, group_by=["line_item"], filters={"line_items": wanted}
    )
    assert served == truth


USAGE = [s for s in STREAMS.values() if s.kind == "usage"]
EVERY_FILTER = {p.api: p for s in USAGE for p in s.filters}


def _value(param) -> str:
    if param.kind == "tristate":
        return "false"
    return param.choices[0] if param.choices else f"{param.id_prefix}x"


@pytest.mark.parametrize("stream", USAGE, ids=lambda s: s.type)
def test_every_stream_takes_its_registry_parameters_and_no_others(emulator_client, stream):
    params = {"start_time": START, "limit": 1, "group_by": list(stream.group_by)}
    if stream.group_by_since:
        params["start_time"] = max(START, *(since for _, since in stream.group_by_since))
    params |= {p.api: _value(p) for p in stream.filters}
    assert emulator_client.get(stream.path, params=params).status_code == 200
    for name, param in EVERY_FILTER.items():
        if name not in params:
            query = {"start_time": START, name: _value(param)}
            assert _refusal(emulator_client, stream.path, query)["param"] == name
