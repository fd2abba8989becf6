"""The official `openai` SDK parses every endpoint's answers, in process and over HTTP."""

from __future__ import annotations

import httpx
import openai
import pytest

from connectors.openai.emulator import DEMO_ADMIN_KEY, DEMO_PROJECT_KEY, Emulator, serve_in_thread
from connectors.openai.streams import USAGE_STREAMS
from tests.fixtures_emulator import EMULATOR_BASE_URL, EMULATOR_NOW

START = EMULATOR_NOW - 3 * 86400 + 5 * 3600


@pytest.fixture(scope="module")
def http_server():
    with serve_in_thread(Emulator(now=EMULATOR_NOW)) as server:
        yield server


@pytest.fixture(params=["in-process", "http"])
def sdk(request, emulator) -> openai.OpenAI:
    if request.param == "http":
        server = request.getfixturevalue("http_server")
        return openai.OpenAI(admin_api_key=DEMO_ADMIN_KEY, base_url=server.base_url, max_retries=0)
    http_client = httpx.Client(transport=emulator.transport())
    return openai.OpenAI(
        admin_api_key=DEMO_ADMIN_KEY,
        base_url=EMULATOR_BASE_URL,
        http_client=http_client,
        max_retries=0,
    )


def _method(stream) -> str:
    return stream.path.rsplit("/", 1)[1]


@pytest.mark.parametrize("stream", USAGE_STREAMS, ids=lambda s: s.type)
def test_it_serves_usage_and_costs_to_the_official_sdk(sdk, stream):
    call = getattr(sdk.admin.organization.usage, _method(stream))
    width = stream.bucket_widths[-1]
    page = call(start_time=START, bucket_width=width, group_by=list(stream.group_by), limit=2)
    assert len(page.data) == 2
    assert page.has_more
    following = call(start_time=START, group_by=list(stream.group_by), limit=2, page=page.next_page)
    assert following.data[0].start_time == page.data[1].end_time
    objects = {r.object for bucket in page.data + following.data for r in bucket.results}
    assert objects == {stream.result_object}


def test_it_serves_the_directory_to_the_official_sdk(sdk, emulator):
    truth = emulator.directory_truth()
    organization = sdk.admin.organization
    projects = list(organization.projects.list(include_archived=True, limit=2))
    assert [p.id for p in projects] == [p["id"] for p in truth["projects"]]
    project = projects[0]
    assert organization.projects.retrieve(project.id).name == project.name
    keys = list(
        organization.projects.api_keys.list(project.id, owner_project_access="any", limit=1)
    )
    assert [k.id for k in keys] == [k["id"] for k in truth["api_keys"][project.id]]
    key = organization.projects.api_keys.retrieve(keys[0].id, project_id=project.id)
    assert key.owner.type in ("user", "service_account")
    members = list(organization.projects.users.list(project.id, limit=1))
    assert len(members) == len(truth["project_users"][project.id])
    accounts = list(organization.projects.service_accounts.list(project.id))
    assert len(accounts) == len(truth["service_accounts"][project.id])
    users = list(organization.users.list(limit=3))
    assert [u.id for u in users] == [u["id"] for u in truth["users"]]
    assert organization.users.retrieve(users[1].id).email == users[1].email
    admin_keys = list(organization.admin_api_keys.list(limit=1))
    assert organization.admin_api_keys.retrieve(admin_keys[0].id).id == admin_keys[0].id
    assert organization.spend_limit.retrieve().threshold_amount > 0
    assert organization.projects.spend_limit.retrieve(project.id).currency == "USD"


def test_it_raises_the_sdk_errors_for_auth_failures(emulator):
    transport = emulator.transport()
    for key, error in ((DEMO_PROJECT_KEY, openai.PermissionDeniedError),
                       ("sk-admin-unknown-0000", openai.AuthenticationError)):  # fmt: skip
        client = openai.OpenAI(
            admin_api_key=key,
            base_url=EMULATOR_BASE_URL,
            http_client=httpx.Client(transport=transport),
            max_retries=0,
        )
        with pytest.raises(error):
            client.admin.organization.usage.costs(start_time=START)
