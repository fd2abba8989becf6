"""Playwright on Debian's Chromium, against Django's live server.

Each test gets a fresh page. `shot(name)` saves a screenshot under test-artifacts/; when a
test fails, the page at that moment is saved too. The pages' Content-Security-Policy holds
here: page.wait_for_function polls with eval, which it refuses; wait on selectors or URLs.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def chromium_path() -> str | None:
    return (
        os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture(scope="session")
def browser():
    executable = chromium_path()
    if executable is None:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=ARTIFACTS / f"FAILED-{request.node.name}.png", full_page=True)
    context.close()


@pytest.fixture
def shot(page, request):
    """Save a screenshot of the current page as a test artifact."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def save(step: str) -> Path:
        path = ARTIFACTS / f"{request.node.name}-{step}.png"
        page.screenshot(path=path, full_page=True)
        return path

    return save


@pytest.fixture
def admin_login(page, live_server, django_user_model):
    """Log in through the login page as a Data administrator."""
    django_user_model.objects.create_user("ada", password="pw-ada-123", is_staff=True)

    def login() -> None:
        page.goto(f"{live_server.url}/")
        page.fill("#id_username", "ada")
        page.fill("#id_password", "pw-ada-123")
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/connectors/")

    return login
