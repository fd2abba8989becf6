"""Data API keys: made in the settings by Data administrators, shown once, stored hashed;
revoked, expired, limited to connectors; never replaced by a session cookie."""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from connectors.dataapi import keys
from connectors.models import USAGE_TABLES, DataApiKey, ProjectEntry
from tests.dataapi.conftest import get


def created_secret(html: str) -> str:
    return re.search(r'id="new-key-value" type="text" readonly value="([^"]+)"', html).group(1)


def test_it_creates_a_key_shown_once_and_stores_only_its_hash(staff_client, api, collected):
    page = reverse("connectors:api-keys")
    response = staff_client.post(page, {"name": "Finance warehouse"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "shown only this once" in html
    assert "no-store" in response["Cache-Control"]
    secret = created_secret(html)
    key = DataApiKey.objects.get(name="Finance warehouse")
    assert secret.startswith(f"dh_{key.prefix}_")
    assert key.secret_hash == hashlib.sha256(secret.split("_", 2)[2].encode()).hexdigest()
    stored = " ".join(str(v) for v in DataApiKey.objects.values_list().get())
    assert secret.split("_", 2)[2] not in stored
    again = staff_client.get(page).content.decode()
    assert secret not in again and "Finance warehouse" in again
    answer = get(api, secret, "completions", page_size=1)
    assert answer.status_code == 200
    assert len(answer.json()["data"]) == 1


def test_it_lets_only_data_administrators_manage_keys(viewer_client, transactional_db):
    page = reverse("connectors:api-keys")
    assert viewer_client.get(page).status_code == 403
    assert viewer_client.post(page, {"name": "Sneaky"}).status_code == 403
    key = keys.key_create("Kept").key
    revoke = reverse("connectors:api-key-revoke", args=[key.pk])
    assert viewer_client.post(revoke).status_code == 403
    assert DataApiKey.objects.get().revoked_at is None
    assert list(DataApiKey.objects.values_list("name", flat=True)) == ["Kept"]


def test_it_refuses_a_key_without_a_name_or_with_an_expiry_in_the_past(staff_client, db):
    page = reverse("connectors:api-keys")
    html = staff_client.post(page, {"name": "  "}).content.decode()
    assert "Give the key a name." in html or "This field is required." in html
    yesterday = (timezone.now() - timedelta(days=1)).date().isoformat()
    html = staff_client.post(page, {"name": "Old", "expires": yesterday}).content.decode()
    assert "Pick a day after today (UTC)." in html
    assert not DataApiKey.objects.exists()


@pytest.mark.parametrize("connector_id", [str(2**63), "9" * 60, str(-(2**63) - 1)])
def test_it_refuses_a_connector_id_beyond_a_64_bit_integer(staff_client, connector, connector_id):
    """Not one of the choices, like any unknown id: SQLite cannot even bind such an id, and
    the page answered 500 on the embedded default."""
    page = reverse("connectors:api-keys")
    response = staff_client.post(page, {"name": "Wide", "connectors": [connector_id]})
    assert response.status_code == 200
    assert f"{connector_id} is not one of the available choices" in response.content.decode()
    assert not DataApiKey.objects.exists()


@pytest.mark.parametrize(
    "headers, words",
    [
        ({}, "Send a Data API key in the ApiKey header"),
        ({"ApiKey": "sk-admin-not-ours"}, "not a Data API key"),
        ({"ApiKey": "dh_000000000000_wrong"}, "Unknown Data API key"),
        ({"Authorization": "Basic YWRhOnB3"}, "Send a Data API key"),
    ],
)
def test_it_answers_401_in_json_without_a_valid_key(api, transactional_db, headers, words):
    answer = api.get("/v1/resultDatabase/completions/paged", headers=headers)
    assert answer.status_code == 401
    assert answer.headers["Content-Type"] == "application/json"
    assert words in answer.json()["error"]


@pytest.mark.parametrize("presented", ["dh_00\x0000_secret", "dh_0000_sec\x07ret", "dh_é_x"])
def test_it_answers_401_for_a_key_with_a_character_no_key_has(transactional_db, presented):
    url = "/v1/resultDatabase/completions/paged"
    answer = Client().get(url, headers={"ApiKey": presented})
    assert answer.status_code == 401
    assert answer.json()["error"] == "This is not a Data API key (they start with dh_)."


def test_it_refuses_a_right_prefix_with_a_wrong_secret(api, secret):
    prefix = secret.split("_")[1]
    answer = get(api, f"dh_{prefix}_{'A' * 43}", "completions")
    assert answer.status_code == 401
    assert answer.json() == {"error": "Unknown Data API key.", "status": 401}


def test_it_takes_the_key_as_a_bearer_token_too(api, secret):
    answer = api.get(
        "/v1/resultDatabase/costs/paged", headers={"Authorization": f"Bearer {secret}"}
    )
    assert answer.status_code == 200
    assert answer.json() == {"data": [], "page": 1, "page_size": 1000, "next": None}


def test_it_refuses_a_revoked_key(staff_client, api, secret):
    assert get(api, secret, "costs").status_code == 200
    key = DataApiKey.objects.get()
    response = staff_client.post(reverse("connectors:api-key-revoke", args=[key.pk]), follow=True)
    assert "is revoked" in response.content.decode()
    answer = get(api, secret, "costs")
    assert answer.status_code == 401
    assert answer.json()["error"] == "This Data API key was revoked."


def test_it_refuses_an_expired_key(api, transactional_db):
    made = keys.key_create("Short-lived", expires_at=timezone.now() + timedelta(days=1))
    assert get(api, made.secret, "projects").status_code == 200
    DataApiKey.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    answer = get(api, made.secret, "projects")
    assert answer.status_code == 401
    assert answer.json()["error"] == "This Data API key has expired."


def test_it_shows_when_a_key_was_last_used(staff_client, api, secret):
    page = reverse("connectors:api-keys")
    row = staff_client.get(page).content.decode().split("<tbody>")[1]
    assert row.count("never") == 2  # expires never, last used never
    assert get(api, secret, "costs").status_code == 200
    used = DataApiKey.objects.get().last_used_at
    assert used is not None
    row = staff_client.get(page).content.decode().split("<tbody>")[1]
    assert used.strftime("%Y-%m-%d %H:%M") in row


def logged_in(live_server, user) -> httpx.Client:
    """An HTTP client holding a Data administrator's session cookie."""
    browser = Client()
    browser.force_login(user)
    cookies = {"sessionid": browser.cookies["sessionid"].value}
    return httpx.Client(base_url=live_server.url, cookies=cookies)


def test_it_accepts_no_session_cookie_in_place_of_a_key(live_server, user, transactional_db):
    with logged_in(live_server, user) as session:
        answer = session.get("/v1/resultDatabase/costs/paged")
        assert answer.status_code == 401
        assert "error" in answer.json()
        # The same cookie opens the pages: it is a valid session, just not a key.
        assert session.get(reverse("connectors:data-api")).status_code == 200


def test_it_is_read_only(live_server, secret, user):
    with logged_in(live_server, user) as session:
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            url = "/v1/resultDatabase/costs/paged"
            answer = session.request(method, url, headers={"ApiKey": secret})
            assert answer.status_code == 405, method
            assert answer.headers["Allow"] == "GET, HEAD"
            assert answer.json()["error"] == "The Data API is read-only: use GET."


def test_it_limits_a_key_to_its_connectors(
    api, staff_client, collected, live_connector, second_connector
):
    page = reverse("connectors:api-keys")
    html = staff_client.post(
        page, {"name": "Second only", "connectors": [second_connector.pk]}
    ).content.decode()
    secret = created_secret(html)
    ids = set(
        USAGE_TABLES["completions"]
        .objects.filter(connector=second_connector)
        .values_list("id", flat=True)
    )
    assert ids and USAGE_TABLES["completions"].objects.filter(connector=live_connector).exists()
    rows = get(api, secret, "completions", page_size=10_000).json()["data"]
    assert {r["id"] for r in rows} == ids
    assert {r["connectorName"] for r in rows} == {"Second org"}
    answer = get(api, secret, "completions", connector=live_connector.pk)
    assert answer.status_code == 404
    assert answer.json()["error"] == f"No connector {live_connector.pk} for this key."
    projects = get(api, secret, "projects", page_size=10_000).json()["data"]
    theirs = ProjectEntry.objects.filter(connector=second_connector)
    assert {p["rowId"] for p in projects} == set(theirs.values_list("row_id", flat=True))
    mine = get(api, secret, "completions", connector=second_connector.pk, page_size=10_000)
    assert {r["id"] for r in mine.json()["data"]} == ids
    assert "Second org" in staff_client.get(page).content.decode().split("<tbody>")[1]
    # A key limited to connectors that are all deleted reads nothing, not everything.
    second_connector.delete()
    assert get(api, secret, "completions").json()["data"] == []


def test_it_limits_each_key_to_its_rate(api, settings, transactional_db):
    settings.DATA_API_REQUESTS_PER_MINUTE = 1
    busy, quiet = keys.key_create("Busy").secret, keys.key_create("Quiet").secret
    answers = [get(api, busy, "projects") for _ in range(6)]
    assert [a.status_code for a in answers[:5]] == [200] * 5  # the burst
    limited = answers[5]
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert limited.json()["error"].startswith("Over 1 requests a minute; retry in")
    assert get(api, quiet, "projects").status_code == 200


def test_it_logs_every_request_with_its_key_name_not_the_key(api, secret, caplog, collected):
    caplog.set_level(logging.INFO, logger="connectors.dataapi")
    get(api, secret, "costs", page_size=2)
    api.get("/v1/resultDatabase/costs/paged")
    lines = [r.getMessage() for r in caplog.records if r.name == "connectors.dataapi"]
    assert any('by key "Warehouse"' in line and ": 200, 2 rows" in line for line in lines)
    assert any("by no valid key: 401" in line for line in lines)
    assert all(secret not in line and secret.split("_", 2)[2] not in line for line in lines)


def test_the_settings_link_the_keys_and_the_documentation(staff_client, viewer_client, db):
    settings_page = staff_client.get(reverse("connectors:preferences")).content.decode()
    assert reverse("connectors:api-keys") in settings_page
    assert reverse("connectors:data-api") in settings_page
    viewer_page = viewer_client.get(reverse("connectors:preferences")).content.decode()
    assert reverse("connectors:api-keys") not in viewer_page
    assert reverse("connectors:data-api") in viewer_page
    docs = viewer_client.get(reverse("connectors:data-api")).content.decode()
    for words in ("/v1/resultDatabase/", "/v1/focus/costs", "page_size", "startswith", "httpx"):
        assert words in docs
    assert "<code>completions</code>" in docs and "<code>serviceAccounts</code>" in docs
    for template in Path(django_settings.BASE_DIR, "templates", "dataapi").glob("*.html"):
        source = template.read_text()  # the Content-Security-Policy allows no inline script
        assert "<script" not in source and not re.search(r"\son[a-z]+=", source)
    keys_page = staff_client.get(reverse("connectors:api-keys")).content.decode()
    assert reverse("connectors:data-api") in keys_page
