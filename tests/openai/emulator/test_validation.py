"""Parameters are checked like the real API: 400 invalid_request_error with `param` set."""

from __future__ import annotations

import pytest

from connectors.openai.streams import USAGE_STREAMS
from tests.fixtures_emulator import EMULATOR_NOW

COMPLETIONS = "/organization/usage/completions"
START = EMULATOR_NOW - 86400


def _error(client, path: str, params: dict) -> dict:
    response = client.get(path, params=params)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["code"] is None
    return error


@pytest.mark.parametrize(
    ("path", "params", "param"),
    [
        (COMPLETIONS, {}, "start_time"),
        (COMPLETIONS, {"start_time": "yesterday"}, "start_time"),
        (COMPLETIONS, {"start_time": START, "end_time": "1.5"}, "end_time"),
        (COMPLETIONS, {"start_time": START, "bucket_width": "1w"}, "bucket_width"),
        ("/organization/costs", {"start_time": START, "bucket_width": "1h"}, "bucket_width"),
        (COMPLETIONS, {"start_time": START, "limit": 0}, "limit"),
        (COMPLETIONS, {"start_time": START, "limit": 32}, "limit"),
        (COMPLETIONS, {"start_time": START, "bucket_width": "1h", "limit": 169}, "limit"),
        (COMPLETIONS, {"start_time": START, "bucket_width": "1m", "limit": 1441}, "limit"),
        ("/organization/costs", {"start_time": START, "limit": 181}, "limit"),
        (COMPLETIONS, {"start_time": START, "group_by": "project_id,size"}, "group_by"),
        (
            "/organization/usage/vector_stores",
            {"start_time": START, "group_by": "model"},
            "group_by",
        ),
        ("/organization/costs", {"start_time": START, "group_by": "model"}, "group_by"),
        ("/organization/usage/images", {"start_time": START, "sizes": "1024x1024,9x9"}, "sizes"),
        ("/organization/usage/images", {"start_time": START, "sources": "image.paint"}, "sources"),
        (
            "/organization/usage/web_search_calls",
            {"start_time": START, "context_levels": "extreme"},
            "context_levels",
        ),
        (COMPLETIONS, {"start_time": START, "batch": "sometimes"}, "batch"),
        (COMPLETIONS, {"start_time": START, "page": "garbage"}, "page"),
        (COMPLETIONS, {"start_time": START, "page": "page_AAAAAGdGxdEiJdKOAAAAAGcqsYA="}, "page"),
        ("/organization/projects", {"limit": 0}, "limit"),
        ("/organization/projects", {"limit": 101}, "limit"),
        ("/organization/projects", {"include_archived": "maybe"}, "include_archived"),
        ("/organization/projects", {"after": "proj_unknown"}, "after"),
        ("/organization/users", {"limit": "many"}, "limit"),
        ("/organization/admin_api_keys", {"order": "sideways"}, "order"),
    ],
)
def test_it_rejects_invalid_parameters_naming_the_parameter(emulator_client, path, params, param):
    assert _error(emulator_client, path, params)["param"] == param


def test_it_rejects_an_invalid_owner_project_access(emulator, emulator_client):
    project = emulator.org().projects[0]
    path = f"/organization/projects/{project.id}/api_keys"
    assert _error(emulator_client, path, {"owner_project_access": "all"})["param"] == (
        "owner_project_access"
    )


def test_it_accepts_the_page_limits_of_each_bucket_width(emulator_client):
    for stream in USAGE_STREAMS:
        for width in stream.bucket_widths:
            maximum = stream.page_limit(width)[1]
            params = {"start_time": START, "bucket_width": width, "limit": maximum}
            assert emulator_client.get(stream.path, params=params).status_code == 200


def test_it_rejects_a_cursor_of_another_query(emulator_client):
    params = {"start_time": START - 86400 * 10, "limit": 2}
    cursor = emulator_client.get(COMPLETIONS, params=params).json()["next_page"]
    assert cursor.startswith("page_")
    other = {**params, "group_by": "model", "page": cursor}
    assert _error(emulator_client, COMPLETIONS, other)["param"] == "page"
    embeddings = {**params, "page": cursor}
    assert _error(emulator_client, "/organization/usage/embeddings", embeddings)["param"] == "page"


def test_it_accepts_arrays_in_all_three_encodings(emulator, emulator_client):
    projects = [p.id for p in emulator.org().projects[:3]]
    base = f"{COMPLETIONS}?start_time={START - 86400 * 5}"
    repeated = "".join(f"&group_by={g}" for g in ("project_id", "model"))
    repeated += "".join(f"&project_ids={p}" for p in projects)
    brackets = "".join(f"&group_by[]={g}" for g in ("project_id", "model"))
    brackets += "".join(f"&project_ids[]={p}" for p in projects)
    joined = "&group_by=project_id,model&project_ids=" + ",".join(projects)
    answers = [emulator_client.get(base + query).json() for query in (repeated, brackets, joined)]
    assert answers[0] == answers[1] == answers[2]
    assert {r["project_id"] for b in answers[0]["data"] for r in b["results"]} <= set(projects)
