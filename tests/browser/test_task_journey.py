"""Add Task in a real browser: the QUERY TYPE swaps the fields, a bad range is explained,
Save lands on the task page."""

from __future__ import annotations

import pytest

from connectors.models import Connector, Task

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def saved_connector() -> Connector:
    connector = Connector(kind="openai", name="Acme org", base_url="http://127.0.0.1:9/v1")
    connector.set_admin_key("sk-admin-browser-fixture-key-abcd")
    connector.save()
    return connector


def test_it_adds_a_task_through_the_form(page, live_server, admin_login, saved_connector, shot):
    admin_login()
    page.click("text=Acme org")
    page.click("text=Add Task")
    page.wait_for_selector("text=Choose a QUERY TYPE to see its parameters.")
    shot("1-empty-form")

    page.select_option("select[name=type]", "costs")
    page.wait_for_selector("input[name=costs-StartTime]")
    assert page.locator("text=costs-StartTime").count() == 1
    assert page.locator("input[name=costs-UserIds], textarea[name=costs-UserIds]").count() == 0
    widths = page.locator("select[name=costs-BucketWidth] option").all_inner_texts()
    assert widths == ["1d"]

    page.select_option("select[name=type]", "completions")
    page.wait_for_selector("input[name=completions-StartTime]")
    assert page.locator("input[name=costs-StartTime]").count() == 0
    assert page.locator("textarea[name=completions-UserIds]").count() == 1
    shot("2-completions-fields")

    page.fill("input[name=name]", "Completions by project and model")
    page.fill("input[name=completions-StartTime]", "2026-03-01")
    page.fill("input[name=completions-EndTime]", "2026-02-01")
    page.check("input[name=completions-GroupBy][value=project_id]")
    page.check("input[name=completions-GroupBy][value=model]")
    page.click("button:has-text('Save')")
    page.wait_for_selector("text=END TIME must be after START TIME.")
    shot("3-invalid-range")
    assert Task.objects.count() == 0
    assert page.input_value("input[name=completions-StartTime]") == "2026-03-01"

    page.fill("input[name=completions-EndTime]", "2026-04-01")
    page.click("button:has-text('Save')")
    page.wait_for_url(f"{live_server.url}/tasks/*/")
    page.wait_for_selector("text=Request estimate")
    shot("4-task-page")
    task = Task.objects.get()
    assert task.parameters["completions-GroupBy"] == ["project_id", "model"]
    assert task.parameters["completions-EndTime"] == "2026-04-01"
    assert page.locator("text=completions-StartTime").count() == 1
    assert page.locator("text=Task “Completions by project and model” saved.").count() == 1
