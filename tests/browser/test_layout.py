"""The run, task and connector pages on a 390 px phone and in a dark room: no sideways
scrolling of the page (wide tables scroll in their own box), a compact header, and dark
colours when the system asks for them. Screenshots of each are saved to look at."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from connectors.models import Connector, RunStatus, RunTrigger, Task, TaskRun

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def pages(db) -> dict[str, str]:
    connector = Connector(
        kind="openai",
        name="Acme Corporation production organization",
        description="The production organization of Acme, billed to the platform team.",
        base_url="https://api.openai.com/v1",
    )
    connector.set_admin_key("sk-admin-layout-fixture-key-abcd")
    connector.save()
    task = Task.objects.create(
        connector=connector,
        name="Completions by project, model and user",
        query_type="completions",
        parameters={
            "type": "completions",
            "completions-StartTime": "2025-01-01",
            "completions-BucketWidth": "1h",
            "completions-GroupBy": ["project_id", "model", "user_id"],
        },
        schedule_enabled=True,
        schedule_start=datetime(2030, 1, 1, 6, tzinfo=UTC),
        interval_unit="hours",
        interval_every=6,
    )
    started = timezone.now() - timedelta(hours=2)
    TaskRun.objects.create(
        task=task,
        trigger=RunTrigger.SCHEDULE,
        status=RunStatus.FAILED,
        started_at=started,
        finished_at=started + timedelta(minutes=3),
        requests_made=13634,
        requests_planned=13634,
        rows_inserted=1234567,
        error="OpenAI refused the admin key (401): it was revoked or mistyped. Paste a "
        "current admin key on the connector.",
    )
    run = TaskRun.objects.create(
        task=task,
        trigger=RunTrigger.MANUAL,
        status=RunStatus.RUNNING,
        started_at=timezone.now() - timedelta(seconds=90),
        heartbeat_at=timezone.now() + timedelta(days=1),
        requests_made=4200,
        requests_planned=13634,
        pages=4200,
        rows_inserted=98765,
        current_stream="completions",
        window_start=datetime(2025, 7, 1, tzinfo=UTC),
        window_end=datetime(2025, 7, 8, tzinfo=UTC),
        streams={"completions": {"status": "running", "planned": 13634, "done": 4200}},
        log=["10:00:00 Started (attempt 1).", "10:00:00 completions: from 2025-01-01 00:00"],
    )
    return {
        "connectors": "/connectors/",
        "connector": f"/connectors/{connector.pk}/",
        "overview": f"/connectors/{connector.pk}/overview/",
        "tasks": "/tasks/",
        "task": f"/tasks/{task.pk}/",
        "catalogue": "/connectors/add/",
        "run": f"/runs/{run.pk}/",
    }


def open_as_ada(browser, live_server, django_user_model, color_scheme: str):
    django_user_model.objects.create_user("ada", password="pw-ada-123", is_staff=True)
    context = browser.new_context(viewport=PHONE, color_scheme=color_scheme)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{live_server.url}/")
    page.fill("#id_username", "ada")
    page.fill("#id_password", "pw-ada-123")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/connectors/")
    return context, page


def luminance(css_color: str) -> float:
    """The perceived brightness (0..255) of an rgb()/rgba() colour."""
    red, green, blue = (float(c) for c in css_color.split("(")[1].split(")")[0].split(",")[:3])
    return 0.299 * red + 0.587 * green + 0.114 * blue


@pytest.mark.parametrize("color_scheme", ["light", "dark"])
def test_it_fits_a_390_px_phone_in_light_and_dark(
    browser, live_server, django_user_model, pages, color_scheme, request
):
    from tests.browser.conftest import ARTIFACTS

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context, page = open_as_ada(browser, live_server, django_user_model, color_scheme)
    try:
        for name, path in pages.items():
            page.goto(f"{live_server.url}{path}")
            page.wait_for_selector("main h1")
            width = page.evaluate("document.documentElement.scrollWidth")
            page.screenshot(path=ARTIFACTS / f"{request.node.name}-{name}.png", full_page=True)
            assert width <= 390, (name, width)
            # The header stays one brand row and one row of links, every link visible.
            header = page.locator("header.topbar").bounding_box()
            assert header["height"] < 110, (name, header)
            for link in page.locator("nav.mainnav a").all():
                box = link.bounding_box()
                assert box["x"] >= 0 and box["x"] + box["width"] <= 390, (name, box)
            colours = page.evaluate(
                """() => [document.documentElement, document.querySelector('main'),
                          document.querySelector('.card, table.grid, .tile')].map(
                    (e, i) => getComputedStyle(e)[i === 1 ? 'color' : 'backgroundColor'])"""
            )
            background, text, card = (luminance(c) for c in colours)
            if color_scheme == "dark":
                assert background < 60 and card < 60 and text > 180, (name, colours)
            else:
                assert background > 200 and card > 200 and text < 80, (name, colours)
        # A wide table scrolls inside its own box, not the page.
        page.goto(f"{live_server.url}{pages['task']}")
        box = page.locator("#task-history .scroll").first
        assert box.evaluate("e => e.scrollWidth > e.clientWidth")
        assert box.evaluate("e => getComputedStyle(e).overflowX") == "auto"
    finally:
        context.close()


def test_it_announces_run_progress_politely(page, live_server, admin_login, pages):
    admin_login()
    page.goto(f"{live_server.url}{pages['run']}")
    assert page.locator("#run-live").get_attribute("aria-live") == "polite"
    assert page.locator("#run-live .runcount").inner_text() == "4,200 of 13,634 requests · 30 %"
    page.goto(f"{live_server.url}{pages['task']}")
    assert page.locator("#task-history .runprogress").get_attribute("aria-live") == "polite"
