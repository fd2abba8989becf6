"""Task form validation, parametrised over every query type of the registry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.openai.plan import params_for
from connectors.openai.streams import QUERY_TYPES, STREAMS, UsageStream
from connectors.setup.fields import MAX_LIST_ITEMS
from connectors.setup.task_form import TaskForm, section_prefixes

USAGE_PREFIXES = [t for t, s in STREAMS.items() if isinstance(s, UsageStream)]


def usage_sections(query_type: str) -> list[str]:
    return [p for p in section_prefixes(query_type) if p == "generic" or p in USAGE_PREFIXES]


def minimal_data(query_type: str) -> dict[str, str]:
    data = {"type": query_type}
    for prefix in usage_sections(query_type):
        data[f"{prefix}-StartTime"] = "2026-01-01"
        data[f"{prefix}-BucketWidth"] = "1d"
    return data


@pytest.mark.parametrize("query_type", QUERY_TYPES)
def test_it_offers_the_parameters_of_each_query_type_by_technical_name(query_type):
    form = TaskForm(query_type=query_type)
    for prefix in section_prefixes(query_type):
        for param in params_for(prefix):
            field = form.fields[f"{prefix}-{param.suffix}"]
            assert field.label == param.label
            assert field.technical_name == f"{prefix}-{param.suffix}"
            assert not field.help_text.startswith(field.technical_name)  # shown on demand


@pytest.mark.parametrize("query_type", QUERY_TYPES)
def test_it_accepts_the_minimal_parameters_and_stores_them_by_technical_name(query_type):
    form = TaskForm(minimal_data(query_type), query_type=query_type)
    assert form.is_valid(), form.errors
    stored = form.parameters()
    assert stored["type"] == query_type
    expected = {
        f"{p}-{param.suffix}" for p in section_prefixes(query_type) for param in params_for(p)
    }
    assert set(stored) - {"type"} == expected
    for prefix in usage_sections(query_type):
        assert stored[f"{prefix}-StartTime"] == "2026-01-01"


@pytest.mark.parametrize("query_type", [t for t in QUERY_TYPES if usage_sections(t)])
def test_it_requires_start_time_for_usage_types(query_type):
    data = minimal_data(query_type)
    missing = usage_sections(query_type)[-1]
    del data[f"{missing}-StartTime"]
    form = TaskForm(data, query_type=query_type)
    assert not form.is_valid()
    # `all`: a section without its own START TIME takes the shared one, asked for once
    where = "shared" if query_type == "all" else missing
    assert form.errors[f"{where}-StartTime"] == ["START TIME is required."]


@pytest.mark.parametrize("query_type", [t for t in QUERY_TYPES if usage_sections(t)])
def test_it_refuses_an_end_time_not_after_the_start(query_type):
    data = minimal_data(query_type)
    prefix = usage_sections(query_type)[0]
    data[f"{prefix}-EndTime"] = "2026-01-01"
    form = TaskForm(data, query_type=query_type)
    assert not form.is_valid()
    assert form.errors[f"{prefix}-EndTime"] == ["END TIME must be after START TIME."]


def test_it_refuses_times_in_the_future():
    tomorrow = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    data = minimal_data("costs") | {"costs-StartTime": tomorrow}
    form = TaskForm(data, query_type="costs")
    assert not form.is_valid()
    assert "START TIME is in the future." in form.errors["costs-StartTime"]


def test_it_accepts_a_date_time_and_normalises_it_to_utc():
    data = minimal_data("embeddings") | {"embeddings-StartTime": "2026-01-01T12:30:00+02:00"}
    form = TaskForm(data, query_type="embeddings")
    assert form.is_valid(), form.errors
    assert form.parameters()["embeddings-StartTime"] == "2026-01-01T10:30:00Z"


def test_it_explains_an_unreadable_date():
    data = minimal_data("embeddings") | {"embeddings-StartTime": "last tuesday"}
    form = TaskForm(data, query_type="embeddings")
    assert not form.is_valid()
    assert "is not a date" in form.errors["embeddings-StartTime"][0]


def test_it_trims_and_deduplicates_id_lists():
    data = minimal_data("completions") | {
        "completions-ProjectIds": " proj_a, proj_b\nproj_a  \n\n proj_c ",
    }
    form = TaskForm(data, query_type="completions")
    assert form.is_valid(), form.errors
    assert form.parameters()["completions-ProjectIds"] == ["proj_a", "proj_b", "proj_c"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("completions-ProjectIds", "user-123", "is not an id of the form proj_"),
        ("completions-UserIds", "proj_1", "is not an id of the form user-"),
        ("completions-ApiKeyIds", "<script>", "is not an id of the form key_"),
        ("completions-Models", "gpt 4o;drop", "is not a valid name"),
        ("completions-ProjectIds", "proj_" + "x" * 200, "is longer than"),
        (
            "completions-ProjectIds",
            ",".join(f"proj_{i}" for i in range(MAX_LIST_ITEMS + 1)),
            "at most",
        ),
    ],
)
def test_it_refuses_ill_formed_or_overlong_lists(field, value, message):
    form = TaskForm(minimal_data("completions") | {field: value}, query_type="completions")
    assert not form.is_valid()
    assert message in form.errors[field][0]


@pytest.mark.parametrize(
    ("query_type", "field", "value"),
    [
        ("costs", "costs-BucketWidth", "1h"),
        ("costs", "costs-GroupBy", "model"),
        ("vectorstores", "vectorstores-GroupBy", "user_id"),
        ("code_interpreter_sessions", "code_interpreter_sessions-GroupBy", "model"),
        ("images", "images-Sizes", "1792x1024"),
        ("web_search_calls", "web_search_calls-ContextLevels", "extreme"),
        ("completions", "completions-Batch", "maybe"),
    ],
)
def test_it_refuses_values_outside_the_endpoint_enums(query_type, field, value):
    form = TaskForm(minimal_data(query_type) | {field: value}, query_type=query_type)
    assert not form.is_valid()
    assert field in form.errors


def test_it_offers_costs_only_1d_and_its_groupings():
    form = TaskForm(query_type="costs")
    assert [c for c, _ in form.fields["costs-BucketWidth"].choices] == ["1d"]
    assert [c for c, _ in form.fields["costs-GroupBy"].choices] == [
        "project_id",
        "line_item",
        "api_key_id",
        "user_id",
        "api_source",
    ]
    assert "costs-UserIds" not in form.fields


def test_it_shows_one_section_per_endpoint_for_all():
    form = TaskForm(query_type="all")
    assert [s["prefix"] for s in form.sections()] == list(STREAMS)


def test_it_shows_one_generic_parameter_set_for_generic():
    form = TaskForm(query_type="generic")
    assert [s["prefix"] for s in form.sections()] == ["generic"]
    assert all(name.startswith("generic-") for name in form.fields if "-" in name)


def test_it_requires_a_query_type():
    form = TaskForm({"name": "x"}, query_type="")
    assert not form.is_valid()
    assert form.errors["type"] == ["Choose a QUERY TYPE."]


def test_it_refuses_an_unknown_query_type():
    form = TaskForm({"type": "everything"}, query_type="everything")
    assert not form.is_valid()
    assert "type" in form.errors
