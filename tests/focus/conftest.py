"""Costs collected from the emulator over HTTP, as a worker collects them; the browser
fixtures for the download journey."""

from __future__ import annotations

from tests.browser.conftest import admin_login, browser, page, shot
from tests.browser.test_data_pages import org
from tests.collection.conftest import fast_retries, live_connector, make_task

__all__ = [
    "admin_login",
    "browser",
    "fast_retries",
    "live_connector",
    "make_task",
    "org",
    "page",
    "shot",
]
