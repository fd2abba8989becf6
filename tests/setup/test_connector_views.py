"""Connectors: the list, the catalogue, Add Connector with the key check, edit, test, delete."""

from __future__ import annotations

import pytest
from django.urls import reverse

from connectors.models import Connector, Task
from connectors.openai.emulator import (
    DEMO_ADMIN_KEY,
    DEMO_NO_USAGE_KEY,
    DEMO_PROJECT_KEY,
    DEMO_SVCACCT_KEY,
)
from connectors.setup import services

ADD_URL = reverse("connectors:connector-add", args=["openai"])
WRONG_ADMIN_KEY = "sk-admin-this-key-was-revoked-long-ago-9999"


def form_data(base_url: str, key: str = DEMO_ADMIN_KEY, **overrides) -> dict[str, str]:
    data = {"name": "Acme", "description": "Production org", "admin_key": key, "base_url": base_url}
    return data | overrides


def test_it_lists_connectors_with_type_description_key_status_and_task_count(staff_client, task):
    connector = task.connector
    connector.key_error = "OpenAI rejected the ADMIN KEY as invalid or revoked (401)."
    connector.save()
    html = staff_client.get(reverse("connectors:connector-list")).content.decode()
    assert "Acme org" in html and "OpenAI" in html and "Production" in html
    assert "OpenAI rejected the ADMIN KEY as invalid or revoked (401)." in html
    assert '<td class="num">1</td>' in html


def test_it_shows_the_catalogue_as_tiles_with_category_tabs(staff_client):
    html = staff_client.get(reverse("connectors:connector-catalogue")).content.decode()
    assert "OpenAI" in html and "version 1.0.0" in html and "connector-openai.svg" in html
    assert ">All</label>" in html.replace("\n", "") or "All" in html
    assert "A.I." in html


@pytest.mark.parametrize(
    ("params", "shown"),
    [
        ({"q": "open"}, True),
        ({"q": "OPENAI"}, True),
        ({"q": "salesforce"}, False),
        ({"category": "A.I."}, True),
        ({"category": "All", "q": "ai"}, True),
        ({"category": "Cloud"}, False),
    ],
)
def test_it_filters_tiles_by_name_and_category_as_a_fragment(staff_client, params, shown):
    url = reverse("connectors:connector-catalogue")
    response = staff_client.get(url, params, headers={"HX-Request": "true", "HX-Target": "tiles"})
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="tiles"')
    assert ("connector-openai.svg" in html) is shown


def test_it_saves_a_connector_whose_key_works(staff_client, emulator_server):
    response = staff_client.post(ADD_URL, form_data(emulator_server.base_url))
    connector = Connector.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("connectors:connector-detail", args=[connector.pk])
    assert connector.admin_key == DEMO_ADMIN_KEY
    assert connector.key_hint == DEMO_ADMIN_KEY[-4:]
    assert connector.key_verified_at is not None and connector.key_error == ""
    page = staff_client.get(response.url).content.decode()
    assert "verified" in page


def test_it_checks_the_key_with_one_usage_read_and_one_directory_read(
    staff_client, emulator_server
):
    emulator_server.emulator.log.clear()
    staff_client.post(ADD_URL, form_data(emulator_server.base_url))
    records = emulator_server.emulator.log.records
    assert sorted(r.path for r in records) == ["/organization/costs", "/organization/projects"]
    assert all(r.params["limit"] == ["1"] for r in records)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (WRONG_ADMIN_KEY, "OpenAI rejected the ADMIN KEY as invalid or revoked (401"),
        (DEMO_NO_USAGE_KEY, "The key lacks the api.usage.read scope"),
        (DEMO_PROJECT_KEY, "This is a project API key (sk-proj-…), not an organization Admin key"),
        (DEMO_SVCACCT_KEY, "This is a service account key (sk-svcacct-…)"),
    ],
)
def test_it_refuses_a_key_that_does_not_work_with_a_precise_message(
    staff_client, emulator_server, key, message
):
    response = staff_client.post(
        ADD_URL, form_data(emulator_server.base_url, key), headers={"HX-Request": "true"}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<form id="connector-form"')
    assert message in html
    assert key not in html  # the typed key is not echoed back
    assert 'value="Acme"' in html  # the rest of what was typed is kept
    assert not Connector.objects.exists()


def test_it_says_when_the_base_url_cannot_be_reached(staff_client, closed_port_url):
    response = staff_client.post(ADD_URL, form_data(closed_port_url))
    assert f"Cannot connect to {closed_port_url}" in response.content.decode()
    assert not Connector.objects.exists()


def test_it_says_when_openai_does_not_answer_in_time(staff_client, silent_server_url, monkeypatch):
    monkeypatch.setattr(services, "KEY_CHECK_TIMEOUT_SECONDS", 0.5)
    response = staff_client.post(ADD_URL, form_data(silent_server_url))
    assert "OpenAI did not answer in time (0.5 s)" in response.content.decode()
    assert not Connector.objects.exists()


def test_it_says_when_the_answer_is_not_the_admin_api(staff_client, html_server_url):
    response = staff_client.post(ADD_URL, form_data(html_server_url))
    assert "was not valid JSON" in response.content.decode()
    assert not Connector.objects.exists()


@pytest.mark.parametrize("base_url", ["ftp://example.com/v1", "javascript:alert(1)", "not a url"])
def test_it_refuses_a_base_url_that_is_not_http(staff_client, base_url):
    response = staff_client.post(ADD_URL, form_data(base_url))
    assert "Enter a valid URL." in response.content.decode()
    assert not Connector.objects.exists()


def test_it_requires_a_name_and_a_key(staff_client):
    response = staff_client.post(ADD_URL, {"base_url": "https://api.openai.com/v1"})
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count("This field is required.") == 2


def test_it_keeps_the_key_when_editing_without_a_new_one(staff_client, connector):
    url = reverse("connectors:connector-edit", args=[connector.pk])
    data = {"name": "Renamed", "description": "", "admin_key": "", "base_url": connector.base_url}
    assert staff_client.post(url, data).status_code == 302
    connector.refresh_from_db()
    assert connector.name == "Renamed"
    assert connector.admin_key.endswith("abcd")


def test_it_checks_a_new_key_on_edit_and_changes_nothing_when_it_fails(
    staff_client, connector, emulator_server
):
    url = reverse("connectors:connector-edit", args=[connector.pk])
    data = form_data(emulator_server.base_url, WRONG_ADMIN_KEY, name="Renamed")
    response = staff_client.post(url, data)
    assert "invalid or revoked" in response.content.decode()
    connector.refresh_from_db()
    assert connector.name == "Acme org" and connector.admin_key.endswith("abcd")
    good = form_data(emulator_server.base_url, DEMO_ADMIN_KEY, name="Renamed")
    assert staff_client.post(url, good).status_code == 302
    connector.refresh_from_db()
    assert connector.admin_key == DEMO_ADMIN_KEY and connector.base_url == emulator_server.base_url


def test_it_retests_a_saved_key_and_records_the_outcome(staff_client, connector, emulator_server):
    url = reverse("connectors:connector-test", args=[connector.pk])
    response = staff_client.post(url, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="key-status"')
    assert "Key check failed" in html and "Cannot connect to" in html
    connector.refresh_from_db()
    assert connector.key_error.startswith("Cannot connect to")

    connector.base_url = emulator_server.base_url
    connector.set_admin_key(DEMO_ADMIN_KEY)
    connector.save()
    html = staff_client.post(url, headers={"HX-Request": "true"}).content.decode()
    assert "verified" in html and "Key check failed" not in html
    connector.refresh_from_db()
    assert connector.key_error == "" and connector.key_verified_at is not None


def test_it_asks_before_deleting_a_connector_and_says_what_goes_with_it(staff_client, task):
    url = reverse("connectors:connector-delete", args=[task.connector_id])
    page = staff_client.get(url).content.decode()
    assert "its 1 task:" in page and task.display_name in page
    assert Connector.objects.exists()
    response = staff_client.post(url)
    assert response.url == reverse("connectors:connector-list")
    assert not Connector.objects.exists() and not Task.objects.exists()
