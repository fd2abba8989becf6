"""Add Connector in a real browser: the catalogue, a wrong key refused with its message,
the right key saved."""

from __future__ import annotations

import pytest

from connectors.models import Connector
from connectors.openai.emulator import DEMO_ADMIN_KEY, DEMO_PROJECT_KEY

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_adds_an_openai_connector(page, live_server, admin_login, emulator_server, shot):
    admin_login()
    shot("1-connectors-empty")
    page.click("text=Add Connector >> nth=0")
    page.wait_for_selector(".tile")
    page.fill("#catalogue-q", "zzz")
    page.wait_for_selector("text=No connector matches")
    page.fill("#catalogue-q", "open")
    page.wait_for_selector(".tile:has-text('OpenAI')")
    page.click("[role=tab]:has-text('A.I.')")
    page.wait_for_selector(".tile:has-text('OpenAI')")
    shot("2-catalogue")
    page.click(".tile:has-text('OpenAI')")

    page.wait_for_selector("text=Authentication")
    assert page.get_attribute("#id_admin_key", "type") == "password"
    assert page.locator("text=ApiAdminKey").count() == 1
    page.fill("#id_name", "Acme production")
    page.fill("#id_description", "The main organization")
    page.fill("#id_admin_key", DEMO_PROJECT_KEY)
    page.click("summary:has-text('Advanced')")
    page.fill("#id_base_url", emulator_server.base_url)
    page.click("button:has-text('Save')")
    page.wait_for_selector("text=This is a project API key")
    shot("3-wrong-key")
    assert Connector.objects.count() == 0
    assert page.input_value("#id_admin_key") == ""
    assert DEMO_PROJECT_KEY not in page.content()
    assert page.input_value("#id_name") == "Acme production"

    page.fill("#id_admin_key", DEMO_ADMIN_KEY)
    page.click("button:has-text('Save')")
    page.wait_for_url(f"{live_server.url}/connectors/*/")
    page.wait_for_selector("text=key verified")
    shot("4-saved")
    connector = Connector.objects.get()
    assert connector.name == "Acme production" and connector.admin_key == DEMO_ADMIN_KEY
    assert DEMO_ADMIN_KEY not in page.content()
    assert page.locator(f"text=…{DEMO_ADMIN_KEY[-4:]}").count() >= 1

    page.click("button:has-text('Test connection')")
    page.wait_for_selector("#key-status .badge.ok")
    page.goto(f"{live_server.url}/connectors/")
    shot("5-connector-list")
    assert page.locator("td:has-text('Acme production')").count() == 1
