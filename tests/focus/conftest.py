"""Costs collected from the emulator over HTTP, as a worker collects them (the download
journey in a browser is tests/browser/test_focus_download.py, with the browser's fixtures)."""

from __future__ import annotations

from tests.browser.test_data_pages import org
from tests.collection.conftest import fast_retries, live_connector, make_task

__all__ = [
    "fast_retries",
    "live_connector",
    "make_task",
    "org",
]
