"""The API keys page in a real browser: a key created, shown once, used, revoked."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.browser


def test_a_data_administrator_creates_uses_and_revokes_a_key(page, shot, live_server, admin_login):
    admin_login()
    page.click("text=ada")  # the settings, under the user's name
    page.click("text=API keys")
    page.fill("#id_name", "Finance warehouse")
    page.click("text=Create key")
    page.wait_for_selector("#new-key-value")
    secret = page.input_value("#new-key-value")
    assert page.is_visible("text=it is shown only this once")
    shot("created")
    url = f"{live_server.url}/v1/resultDatabase/projects/paged"
    assert httpx.get(url, headers={"ApiKey": secret}).status_code == 200
    page.goto(f"{live_server.url}/settings/api-keys/")
    assert secret not in page.content()
    page.click("#api-keys button:has-text('Revoke')")
    page.wait_for_selector("text=is revoked")
    assert page.is_visible("#api-keys .badge:has-text('revoked')")
    shot("revoked")
    assert httpx.get(url, headers={"ApiKey": secret}).status_code == 401
    page.click("text=Data API documentation")
    page.wait_for_selector("h1:has-text('Data API')")
    shot("documentation")
