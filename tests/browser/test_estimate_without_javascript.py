"""The request estimate on the task edit form is part of the page, not only an htmx
enhancement: with JavaScript off it shows the saved parameters' estimate when the page
opens, and the submitted parameters' estimate when Save is refused."""

from __future__ import annotations

import math

import pytest

from connectors.models import Connector, Task
from connectors.openai.streams import STREAMS
from tests.browser.conftest import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RATE = 120


def hourly_requests(days: int) -> int:
    """Requests of an hourly completions backfill: OpenAI's largest hourly page."""
    _, per_page = STREAMS["completions"].page_limit("1h")
    return math.ceil(days * 24 / per_page)


@pytest.fixture
def hourly(db) -> Task:
    connector = Connector(
        kind="openai", name="Acme org", base_url="http://127.0.0.1:9/v1", requests_per_minute=RATE
    )
    connector.set_admin_key("sk-admin-browser-fixture-key-abcd")
    connector.save()
    return Task.objects.create(
        connector=connector,
        name="January by hour",
        query_type="completions",
        parameters={
            "type": "completions",
            "completions-StartTime": "2026-01-01",
            "completions-EndTime": "2026-01-31",
            "completions-BucketWidth": "1h",
        },
    )


@pytest.fixture
def no_js_page(browser, live_server, django_user_model):
    django_user_model.objects.create_user("ada", password="pw-ada-123", is_staff=True)
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{live_server.url}/")
    page.fill("#id_username", "ada")
    page.fill("#id_password", "pw-ada-123")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/connectors/")
    yield page
    context.close()


def test_it_shows_the_estimate_on_the_edit_form_without_javascript(no_js_page, live_server, hourly):
    page = no_js_page
    page.goto(f"{live_server.url}/tasks/{hourly.pk}/edit/")
    assert page.locator("noscript button:has-text('Show parameters')").is_visible()
    saved = hourly_requests(30)  # 2026-01-01 to 2026-01-31
    assert saved == 5
    estimate = page.locator("#task-estimate")
    assert estimate.inner_text() == (
        f"Request estimate: {saved} requests ≈ 1 min at {RATE} a minute for a full run."
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / "estimate-without-javascript-1-edit.png", full_page=True)

    # A wider range and a schedule without its Start date: Save is refused, and the
    # estimate shown is that of the parameters submitted.
    page.fill("input[name=completions-EndTime]", "2026-03-01")
    page.check("input[name=schedule_enabled]")
    page.click("button:has-text('Save')")
    page.wait_for_selector(".error-summary:has-text('A scheduled task needs a Start date.')")
    wider = hourly_requests(59)  # 2026-01-01 to 2026-03-01
    assert wider == 9
    assert estimate.inner_text() == (
        f"Request estimate: {wider} requests ≈ 1 min at {RATE} a minute for a full run."
    )
    page.screenshot(path=ARTIFACTS / "estimate-without-javascript-2-refused.png", full_page=True)
    hourly.refresh_from_db()
    assert hourly.parameters["completions-EndTime"] == "2026-01-31"  # nothing saved
    assert not hourly.schedule_enabled
