"""The registry's rules for a column's facts: what a maintainer adding a column relies on
the registry to hold, so that the table page, its filters, the charts, the names, Export
CSV and the Data API can all read a column's facts from its `Field`."""

from __future__ import annotations

from connectors.models.tables import NUMERIC
from connectors.openai.streams import COLUMNS, DIMENSIONS, DIRECTORY_STREAMS, USAGE_STREAMS


def usage_fields():
    return [(s.type, f) for s in USAGE_STREAMS for f in (*s.dimensions, *s.metrics)]


def test_it_gives_every_dimension_a_task_filter_narrows_a_table_page_filter():
    """A task can keep only some values of a dimension; its table page can then show
    only some of them too."""
    for stream in USAGE_STREAMS:
        for param in stream.filters:
            if param.narrows:
                assert DIMENSIONS[param.narrows].filter, (stream.type, param.suffix)


def test_it_gives_every_table_page_filter_its_own_url_parameter():
    filters = [f.filter for f in DIMENSIONS.values() if f.filter]
    assert len(filters) == len(set(filters))


def test_it_labels_every_column_and_gives_every_number_its_unit():
    for stream_type, field in usage_fields():
        assert field.label, (stream_type, field.column)
        assert field.label[0].islower() or field.label.startswith("API"), field.label
        if field.type in NUMERIC:
            assert field.unit, (stream_type, field.column)


def test_it_names_ids_only_from_a_directory_the_registry_lists():
    directories = {s.type for s in DIRECTORY_STREAMS}
    named = [f for f in DIMENSIONS.values() if f.directory]
    assert named, "projects, users and API keys are named from the directory"
    for field in named:
        assert field.directory in directories, field.column


def test_it_gives_a_column_name_one_meaning_in_every_stream():
    """Readers that hold only a column's name (a chart's grouping, a URL's sort) look its
    facts up in COLUMNS: a name must mean the same field wherever it appears."""
    for stream_type, field in usage_fields():
        assert COLUMNS[field.column] == field, (stream_type, field.column)


def test_it_keeps_the_labels_users_see():
    """The words the pages have always used."""
    assert {c: COLUMNS[c].label for c in ("projectId", "apiKeyId", "lineItem")} == {
        "projectId": "project",
        "apiKeyId": "API key",
        "lineItem": "line item",
    }
    assert (COLUMNS["amountValue"].label, COLUMNS["amountValue"].unit) == ("cost (USD)", "USD")
    assert (COLUMNS["inputTokens"].label, COLUMNS["inputTokens"].unit) == (
        "input tokens",
        "tokens",
    )
    assert (COLUMNS["numModelRequests"].label, COLUMNS["numModelRequests"].unit) == (
        "requests",
        "requests",
    )
