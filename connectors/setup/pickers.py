"""The names the task form's id fields offer: the connector's directory and the values its
usage tables have seen."""

from __future__ import annotations

from connectors.explore.names import Name, line_items_seen, names_of
from connectors.models import DAILY_BY_TABLES, Connector
from connectors.openai.streams import DIMENSIONS, STREAMS

# The pickers of the id fields: the directory column or usage column a dimension reads.
DIRECTORY_PICKERS = {name: f.column for name, f in DIMENSIONS.items() if f.directory}
SEEN_PICKERS = {"model": "model", "vector_store_id": "vectorStoreId"}


def task_pickers(connector: Connector) -> dict[str, list[str]]:
    """The choices the id fields offer by name ("Research (proj_abc)", archived and
    deleted entries marked): the connector's directory, the models and vector stores
    its usage tables have seen (from the small per-dimension daily rollups), and the
    line items of its newest costs rows."""
    directory = names_of(connector, dict.fromkeys(DIRECTORY_PICKERS.values()))
    pickers = {
        dimension: sorted(_option(i, name) for i, name in directory[column].items())
        for dimension, column in DIRECTORY_PICKERS.items()
    }
    for dimension, column in SEEN_PICKERS.items():
        seen: set[str] = set()
        for query_type, table in DAILY_BY_TABLES.items():
            if dimension in STREAMS[query_type].group_by:
                rows = table.objects.filter(connector=connector, dimension=column)
                seen |= set(rows.values_list(column, flat=True).distinct())
        pickers[dimension] = sorted(v for v in seen if v)
    pickers["line_item"] = line_items_seen(connector)
    return pickers


def _option(openai_id: str, name: Name) -> str:
    text = f"{name.text} ({openai_id})" if name.text != openai_id else openai_id
    return f"{text} · {name.state}" if name.state else text
