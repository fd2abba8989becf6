"""A run whose key may not read usage: the run page says it partly succeeded and shows,
stream by stream, what was collected and what OpenAI refused, in OpenAI's words."""

from __future__ import annotations

import pytest
from django.conf import settings

from connectors.collection import engine
from connectors.models import Connector, RunStatus, Task, TaskRun
from connectors.openai.emulator import DEMO_NO_USAGE_KEY

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_run_page_shows_each_stream_of_a_partly_successful_run(
    page, live_server, admin_login, shot, emulator_server
):
    settings.OPENAI_RETRY_BASE_SECONDS = 0.01
    connector = Connector(kind="openai", name="Scoped org", base_url=emulator_server.base_url)
    connector.set_admin_key(DEMO_NO_USAGE_KEY)
    connector.save()
    task = Task.objects.create(
        connector=connector,
        query_type="generic",
        parameters={
            "type": "generic",
            "generic-StartTime": "2026-10-25",
            "generic-BucketWidth": "1d",
        },
    )
    run = TaskRun.objects.create(task=task, trigger="manual")
    engine.run_execute(run.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.PARTIAL, run.error

    admin_login()
    page.goto(f"{live_server.url}/runs/{run.pk}/")
    assert page.locator(".pagehead h1").inner_text().startswith(f"Run {run.number} of")
    assert page.get_by_text("Partly succeeded").first.is_visible()
    streams = page.locator("table.streams tbody tr")
    assert streams.count() == len(run.streams)
    costs = streams.filter(has_text="costs")
    assert "Failed" in costs.inner_text() and "api.usage.read" in costs.inner_text()
    projects = streams.filter(has=page.locator("code", has_text="projects"))
    assert "Collected" in projects.first.inner_text()
    shot("partial-run")
