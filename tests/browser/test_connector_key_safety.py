"""Editing a connector in a real browser: a new API BASE URL asks for the key again, and a
pasted key with an invisible character is named and refused."""

from __future__ import annotations

import pytest

from connectors.openai.emulator import DEMO_ADMIN_KEY
from connectors.setup import services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_new_base_url_asks_for_the_key_again(
    page, live_server, admin_login, emulator_server, closed_port_url, shot
):
    connector, _ = services.connector_create(
        kind="openai",
        name="Acme",
        description="",
        base_url=emulator_server.base_url,
        admin_key=DEMO_ADMIN_KEY,
    )
    admin_login()
    page.goto(f"{live_server.url}/connectors/{connector.pk}/edit/")
    page.click("summary:has-text('Advanced')")
    page.fill("#id_base_url", closed_port_url)
    page.click("button:has-text('Save')")
    page.wait_for_selector("text=The API BASE URL changed: enter the ADMIN KEY again")
    shot("1-key-needed")

    page.fill("#id_admin_key", DEMO_ADMIN_KEY + "\u200b")
    page.click("button:has-text('Save')")
    page.wait_for_selector("text=U+200B ZERO WIDTH SPACE")
    shot("2-invisible-character")
    assert page.input_value("#id_base_url") == closed_port_url  # Advanced stays open
    assert page.is_visible("#id_base_url")
    assert DEMO_ADMIN_KEY not in page.content()
    connector.refresh_from_db()
    assert connector.base_url == emulator_server.base_url
