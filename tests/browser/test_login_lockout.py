"""The login page in the browser: after too many failed sign-ins it says so in words and
the right password is refused until the lockout has passed."""

from __future__ import annotations

import pytest
from django.conf import settings

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_says_sign_in_is_paused_after_too_many_failures(page, live_server, user, shot):
    page.goto(f"{live_server.url}/login/")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        page.fill("#id_username", "ada")
        page.fill("#id_password", "not-her-password")
        page.click("button[type=submit]")
        page.wait_for_selector("p.error[role=alert]")
    alert = page.locator("p.error[role=alert]")
    assert alert.inner_text() == "Too many failed sign-ins; try again in 15 minutes."
    page.fill("#id_password", "pw-ada-123")  # the username is kept in the form
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert page.url == f"{live_server.url}/login/"
    assert alert.inner_text() == "Too many failed sign-ins; try again in 15 minutes."
    shot("locked-out")
