"""Authentication: missing, invalid, out-of-scope keys, and one organization per key."""

from __future__ import annotations

import pytest

from connectors.openai.emulator import (
    DEMO_ADMIN_KEY,
    DEMO_NO_USAGE_KEY,
    DEMO_PROJECT_KEY,
    DEMO_SVCACCT_KEY,
)
from tests.fixtures_emulator import EMULATOR_NOW

COSTS = f"/organization/costs?start_time={EMULATOR_NOW - 86400}"
COMPLETIONS = f"/organization/usage/completions?start_time={EMULATOR_NOW - 86400}"
PROJECTS = "/organization/projects"


def _as(client, path: str, key: str | None):
    headers = {"Authorization": f"Bearer {key}" if key else ""}
    return client.get(path, headers=headers)


def test_it_answers_401_without_a_key(emulator_client):
    for headers in ({"Authorization": ""}, {"Authorization": "Basic dXNlcjpwYXNz"}):
        response = emulator_client.get(COSTS, headers=headers)
        assert response.status_code == 401
        error = response.json()["error"]
        assert error["message"].startswith("You didn't provide an API key. You need to provide")
        assert (error["type"], error["param"], error["code"]) == (
            "invalid_request_error",
            None,
            None,
        )


def test_it_answers_401_with_the_key_redacted_for_an_unknown_key(emulator_client):
    response = _as(emulator_client, PROJECTS, "sk-admin-0123456789-revoked-abcd")
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["message"] == (
        "Incorrect API key provided: sk-admin********************abcd. "
        "You can find your API key at https://platform.openai.com/account/api-keys."
    )
    assert error["code"] == "invalid_api_key" and error["type"] == "invalid_request_error"


@pytest.mark.parametrize("key", [DEMO_PROJECT_KEY, DEMO_SVCACCT_KEY, DEMO_NO_USAGE_KEY])
@pytest.mark.parametrize("path", [COSTS, COMPLETIONS])
def test_it_answers_403_missing_scopes_on_usage_and_costs(emulator_client, key, path):
    response = _as(emulator_client, path, key)
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["message"].startswith(
        "You have insufficient permissions for this operation. Missing scopes: api.usage.read."
    )
    assert error["code"] is None


@pytest.mark.parametrize("key", [DEMO_PROJECT_KEY, DEMO_SVCACCT_KEY])
def test_it_answers_403_to_project_keys_on_the_directory(emulator_client, key):
    response = _as(emulator_client, PROJECTS, key)
    assert response.status_code == 403
    assert "Missing scopes: api.management.read" in response.json()["error"]["message"]


def test_it_serves_the_directory_but_not_usage_to_a_key_without_the_usage_scope(emulator_client):
    assert _as(emulator_client, PROJECTS, DEMO_NO_USAGE_KEY).status_code == 200
    assert _as(emulator_client, COSTS, DEMO_NO_USAGE_KEY).status_code == 403
    assert _as(emulator_client, COSTS, DEMO_ADMIN_KEY).status_code == 200


def test_it_serves_one_organization_per_key(emulator, emulator_client):
    emulator.add_key("sk-admin-second-org", seed=7)
    ours = _as(emulator_client, PROJECTS, DEMO_ADMIN_KEY).json()["data"]
    theirs = _as(emulator_client, PROJECTS, "sk-admin-second-org").json()["data"]
    assert {p["id"] for p in ours}.isdisjoint({p["id"] for p in theirs})
    truth = emulator.directory_truth(seed=7)["projects"]
    assert [p["id"] for p in theirs] == [p["id"] for p in truth if p["status"] == "active"]
