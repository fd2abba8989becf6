"""The task form and the 2026 API: new query type, groupings and filters, and the costs
grouping OpenAI refuses before 2025-12-06 refused at Save instead of at every run."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from connectors.openai.streams import COSTS_API_KEY_SINCE, QUERY_TYPES
from connectors.setup.task_form import TaskForm
from tests.setup.test_task_form import minimal_data

CUTOFF_DAY = "2025-12-06"  # COSTS_API_KEY_SINCE as a UTC date (langwatch/langwatch#7579)


def _costs_section(query_type: str, start: str, group_by: list[str]) -> tuple[dict, str]:
    """Form data whose costs section (costs, all's costs or generic) starts at `start`."""
    prefix = "generic" if query_type == "generic" else "costs"
    data = minimal_data(query_type)  # every usage section of `all` needs a START TIME
    data[f"{prefix}-StartTime"] = start
    data[f"{prefix}-GroupBy"] = group_by
    return data, prefix


def test_the_cutoff_is_the_first_second_of_2025_12_06_utc():
    assert datetime.fromtimestamp(COSTS_API_KEY_SINCE, UTC).isoformat() == (
        f"{CUTOFF_DAY}T00:00:00+00:00"
    )


@pytest.mark.parametrize("query_type", ["costs", "all", "generic"])
def test_it_refuses_costs_by_api_key_id_starting_before_2025_12_06(query_type):
    data, prefix = _costs_section(query_type, "2025-12-05T23:59:59Z", ["api_key_id"])
    form = TaskForm(data, query_type=query_type)
    assert not form.is_valid()
    message = form.errors[f"{prefix}-StartTime"][0]
    assert CUTOFF_DAY in message
    assert "api_key_id" in message
    assert "remove api_key_id from GROUP BY" in message
    assert "second task" in message


@pytest.mark.parametrize("query_type", ["costs", "all", "generic"])
def test_it_accepts_costs_by_api_key_id_from_2025_12_06(query_type):
    data, _ = _costs_section(query_type, CUTOFF_DAY, ["project_id", "api_key_id"])
    form = TaskForm(data, query_type=query_type)
    assert form.is_valid(), form.errors


@pytest.mark.parametrize("query_type", ["costs", "all", "generic"])
def test_it_accepts_earlier_costs_without_api_key_id(query_type):
    data, _ = _costs_section(query_type, "2025-01-01", ["project_id", "user_id", "line_item"])
    form = TaskForm(data, query_type=query_type)
    assert form.is_valid(), form.errors


def test_it_lets_usage_group_by_api_key_id_before_the_costs_cutoff():
    data = {"type": "completions", "completions-StartTime": "2025-01-01"}
    data |= {"completions-BucketWidth": "1d", "completions-GroupBy": ["api_key_id"]}
    assert TaskForm(data, query_type="completions").is_valid()


def test_it_offers_decisions_with_the_completions_groupings_and_api_source():
    assert "decisions" in QUERY_TYPES
    form = TaskForm(query_type="decisions")
    choices = [c for c, _ in form.fields["decisions-GroupBy"].choices]
    assert choices == [
        "project_id",
        "user_id",
        "api_key_id",
        "model",
        "batch",
        "service_tier",
        "api_source",
    ]
    assert {"decisions-ProjectIds", "decisions-Models", "decisions-Batch"} <= set(form.fields)


@pytest.mark.parametrize("query_type", ["completions", "web_search_calls", "costs", "decisions"])
def test_it_offers_grouping_by_api_source_where_openai_does(query_type):
    form = TaskForm(query_type=query_type)
    assert "api_source" in [c for c, _ in form.fields[f"{query_type}-GroupBy"].choices]


def test_it_keeps_line_item_names_whole_one_per_line():
    data = {"type": "costs", "costs-StartTime": "2026-01-01", "costs-BucketWidth": "1d"}
    data["costs-LineItems"] = "gpt-4o-2024-08-06, input\n dall-e-3 | 1024x1024 \n\n"
    form = TaskForm(data, query_type="costs")
    assert form.is_valid(), form.errors
    assert form.parameters()["costs-LineItems"] == [
        "gpt-4o-2024-08-06, input",
        "dall-e-3 | 1024x1024",
    ]


def test_the_add_task_page_shows_the_new_parameters(staff_client, connector):
    url = reverse("connectors:task-add", args=[connector.pk])
    html = staff_client.get(url, {"type": "costs"}, headers={"HX-Request": "true"})
    html = html.content.decode()
    assert "LINE ITEMS" in html and "costs-LineItems" in html
    assert 'value="user_id"' in html and 'value="api_source"' in html
    page = staff_client.get(url).content.decode()
    assert '<option value="decisions"' in page
