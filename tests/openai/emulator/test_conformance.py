"""Every endpoint's answers validate against the official spec subset (openapi-core)."""

from __future__ import annotations

import httpx
import pytest

from connectors.openai.emulator import DEMO_ADMIN_KEY, DEMO_PROJECT_KEY
from connectors.openai.streams import USAGE_STREAMS
from tests.openai.emulator.spec import schema_properties, spec_dict, validate, validate_error

START = 1793491200 - 2 * 86400 + 13 * 3600 + 7 * 60  # two days before now, at 13:07
LIMITS = {"1d": 3, "1h": 6, "1m": 30}


def _groupings(stream) -> list[tuple[str, ...]]:
    return [(), stream.group_by[:1], stream.group_by]


def _cases():
    for stream in USAGE_STREAMS:
        for width in stream.bucket_widths:
            for group_by in _groupings(stream):
                yield pytest.param(stream, width, group_by, id=f"{stream.type}-{width}-{group_by}")


@pytest.mark.parametrize(("stream", "width", "group_by"), list(_cases()))
def test_it_answers_usage_and_costs_as_the_spec_says(emulator_client, stream, width, group_by):
    params = {"start_time": START, "bucket_width": width, "limit": LIMITS[width]}
    response = emulator_client.get(stream.path, params={**params, "group_by[]": list(group_by)})
    assert response.status_code == 200
    validate(response)
    _assert_no_extra_fields(response.json())


def _assert_no_extra_fields(page: dict) -> None:
    schemas = spec_dict()["components"]["schemas"]
    mapping = schemas["UsageTimeBucket"]["properties"]["results"]["items"]["discriminator"]
    assert set(page) == schema_properties("UsageResponse")
    for bucket in page["data"]:
        assert set(bucket) == schema_properties("UsageTimeBucket")
        for result in bucket["results"]:
            name = mapping["mapping"][result["object"]].rsplit("/", 1)[1]
            assert set(result) <= schema_properties(name)


def test_it_answers_every_page_and_filter_as_the_spec_says(emulator, emulator_client):
    org = emulator.org()
    params = {
        "start_time": START,
        "bucket_width": "1h",
        "limit": 5,
        "group_by": "project_id,model,batch",
        "project_ids": [p.id for p in org.projects[:3]],
        "batch": "false",
    }
    path = "/organization/usage/completions"
    page, pages = emulator_client.get(path, params=params), 1
    while page.json()["has_more"]:
        validate(page)
        cursor = page.json()["next_page"]
        page = emulator_client.get(
            "/organization/usage/completions", params={**params, "page": cursor}
        )
        pages += 1
    validate(page)
    assert pages == 7  # 35 hourly buckets from 13:07 two days ago


def _directory_paths(emulator) -> list[str]:
    project = emulator.org().projects[0]
    key = emulator.directory_truth()["api_keys"][project.id][0]
    admin_key = emulator.directory_truth()["admin_api_keys"][0]
    user = emulator.org().users[0]
    return [
        "/organization/projects?include_archived=true&limit=3",
        f"/organization/projects/{project.id}",
        f"/organization/projects/{project.id}/api_keys?owner_project_access=any",
        f"/organization/projects/{project.id}/api_keys/{key['id']}",
        f"/organization/projects/{project.id}/users",
        f"/organization/projects/{project.id}/service_accounts",
        f"/organization/projects/{project.id}/spend_limit",
        "/organization/users?limit=4",
        f"/organization/users?emails={user.email}",
        f"/organization/users/{user.id}",
        "/organization/admin_api_keys?order=desc",
        f"/organization/admin_api_keys/{admin_key['id']}",
        "/organization/spend_limit",
    ]


ITEM_SCHEMAS = {
    "organization.project": "Project",
    "organization.user": "User",
    "organization.project.api_key": "ProjectApiKey",
    "organization.project.user": "ProjectUser",
    "organization.project.service_account": "ProjectServiceAccount",
    "organization.admin_api_key": "AdminApiKey",
    "organization.spend_limit": "OrganizationSpendLimitResource",
    "project.spend_limit": "ProjectSpendLimitResource",
}


def test_it_answers_the_directory_as_the_spec_says(emulator, emulator_client):
    for path in _directory_paths(emulator):
        response = emulator_client.get(path)
        assert response.status_code == 200, path
        validate(response)
        body = response.json()
        for item in body["data"] if body["object"] == "list" else [body]:
            assert set(item) <= schema_properties(ITEM_SCHEMAS[item["object"]]), path


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/organization/usage/completions?start_time=1&bucket_width=1w", {}, 400),
        ("/organization/costs?start_time=1&limit=181", {}, 400),
        ("/organization/projects?limit=0", {}, 400),
        ("/organization/costs?start_time=1", {"Authorization": ""}, 401),
        ("/organization/costs?start_time=1", {"Authorization": "Bearer sk-admin-x0000abcd"}, 401),
        ("/organization/costs?start_time=1", {"Authorization": f"Bearer {DEMO_PROJECT_KEY}"}, 403),
        ("/organization/projects/proj_missing", {}, 404),
    ],
)
def test_it_answers_errors_in_the_spec_envelope(emulator_client, path, headers, status):
    response = emulator_client.get(path, headers=headers)
    assert response.status_code == status
    validate_error(response)


def test_it_answers_rate_limits_as_the_spec_says(emulator_client):
    headers = {"X-Emulator-Fault": "429", "Authorization": f"Bearer {DEMO_ADMIN_KEY}"}
    response = emulator_client.get("/organization/costs?start_time=1", headers=headers)
    assert response.status_code == 429
    validate(response)
    validate_error(response)


def test_it_fails_validation_for_a_field_the_spec_types_differently(emulator_client):
    response = emulator_client.get("/organization/spend_limit")
    broken = httpx.Response(
        200,
        json={**response.json(), "threshold_amount": "lots"},
        request=response.request,
    )
    with pytest.raises(Exception, match="(?i)invalid|validat"):
        validate(broken)
