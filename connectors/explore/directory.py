"""The directory tables (projects, users, apiKeys, serviceAccounts) as pages: sorted,
filtered by text and state, exported as CSV.

A directory is small (hundreds of rows, not millions), so pages are plain offset pages
and the CSV is written by the csv module. A row's *state* is what the usage pages mark
next to its name: a project archived upstream is `archived`; an entry that OpenAI no
longer lists is `removed` (for an API key the usage pages say `deleted`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from django.db.models import Case, CharField, Q, QuerySet, Value, When

from connectors.explore import params as checked
from connectors.explore.export import inert
from connectors.explore.table_rows import plain
from connectors.models import ApiKeyEntry, Connector, ProjectEntry, ServiceAccountEntry, UserEntry

# table → (its model, the stream type that collects it)
DIRECTORY_TABLES = {
    "projects": (ProjectEntry, "projects"),
    "users": (UserEntry, "users"),
    "apiKeys": (ApiKeyEntry, "api_keys"),
    "serviceAccounts": (ServiceAccountEntry, "api_keys"),
}
STATES = ("active", "archived", "removed")
PAGE_SIZE = 100
# Fields never shown: the connector, our own row id, the object type and the raw JSON.
HIDDEN = {"connector", "row_id", "object", "extra"}
# Fields searched by the text filter, where the table has them.
SEARCHED = ("openai_id", "name", "email", "project_id", "owner_name", "redacted_value")


@dataclass
class Column:
    name: str  # the column as the table and the CSV name it
    field: str  # the model field (or "state")
    kind: str  # "text", "number", "time", "bool", "json", "state"


KINDS = {
    "CharField": "text",
    "TextField": "text",
    "DateTimeField": "time",
    "BooleanField": "bool",
    "JSONField": "json",
}


@dataclass
class DirectoryQuery:
    table: str
    q: str = ""
    state: str = ""
    sort: str = "name"
    page: int = 1
    problems: list[str] = field(default_factory=list)

    @property
    def sort_column(self) -> str:
        return self.sort.removeprefix("-")

    @property
    def descending(self) -> bool:
        return self.sort.startswith("-")


def model_for(table: str):
    found = DIRECTORY_TABLES.get(table)
    return found[0] if found else None


def columns(table: str) -> list[Column]:
    """id and name first, then the state, then every other field in the model's order."""
    model = model_for(table)
    found = {"openai_id": None, "name": None}
    for f in model._meta.concrete_fields:
        if f.name in HIDDEN:
            continue
        found[f.name] = Column(f.column, f.name, KINDS.get(f.get_internal_type(), "number"))
    shown = [found.pop("openai_id"), found.pop("name"), Column("state", "state", "state")]
    ours = [found.pop(f) for f in ("removed_at", "first_fetched_at", "last_fetched_at")]
    return shown + list(found.values()) + ours  # OpenAI's fields, then our bookkeeping


def parse_query(table: str, params) -> DirectoryQuery:
    """The URL's filters, each checked (see `params`); what cannot be used is dropped
    and said in `problems`. A page past the last is the view's to bound."""
    query = DirectoryQuery(table)
    query.q = checked.text(params, "q", 100, query.problems, "search")
    state = params.get("status") or ""
    if state in STATES:
        query.state = state
    elif state:
        shown = checked.echo(state)
        query.problems.append(f"“{shown}” is not a state (active, archived, removed).")
    sort = params.get("sort") or "name"
    if sort.removeprefix("-") in {c.name for c in columns(table)}:
        query.sort = sort
    else:
        query.problems.append("That column cannot be sorted; sorted by name instead.")
    page = (params.get("page") or "").strip()
    number = int(page[:19]) if page.isascii() and page.isdigit() else 0  # longer: past the end
    if number >= 1:
        query.page = number
    elif page:
        query.problems.append(f"“{checked.echo(page)}” is not a page number; showing page 1.")
    return query


def _archived(model) -> Q:
    if model is ProjectEntry:
        return Q(archived_at__isnull=False, removed_at__isnull=True)
    return Q(pk__in=[])


def filtered(connector: Connector, query: DirectoryQuery) -> QuerySet:
    """The entries the filters select, each with its `state`, in the query's order."""
    model = model_for(query.table)
    rows = model.objects.filter(connector=connector).annotate(
        state=Case(
            When(removed_at__isnull=False, then=Value("removed")),
            When(_archived(model), then=Value("archived")),
            default=Value("active"),
            output_field=CharField(),
        )
    )
    if query.state:
        rows = rows.filter(state=query.state)
    if query.q:
        names = {f.name for f in model._meta.concrete_fields}
        match = Q()
        for name in SEARCHED:
            if name in names:
                match |= Q(**{f"{name}__icontains": query.q})
        rows = rows.filter(match)
    by = next(c.field for c in columns(query.table) if c.name == query.sort_column)
    order = [f"-{by}", "-row_id"] if query.descending else [by, "row_id"]
    return rows.order_by(*order)


def counts(connector: Connector, table: str) -> dict[str, Any]:
    """Rows per state and the newest fetch of a directory table: the Tables page's line."""
    rows = filtered(connector, DirectoryQuery(table))
    found: dict[str, Any] = dict.fromkeys(STATES, 0)
    newest = None
    for state, fetched in rows.order_by().values_list("state", "last_fetched_at"):
        found[state] += 1
        newest = fetched if newest is None or fetched > newest else newest
    return found | {"count": sum(found[s] for s in STATES), "updated": newest}


# --- values ------------------------------------------------------------------------------


def exact(column: Column, value: Any) -> str:
    """A value as the CSV writes it: times ISO 8601 UTC, JSON as JSON, numbers exact,
    text that a spreadsheet would run as a formula made inert (`export.inert`)."""
    if value is None:
        return ""
    if column.kind == "time":
        return value.astimezone(UTC).isoformat()
    if column.kind == "json":
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    if column.kind == "text":
        return inert(value)
    return plain(value)


def shown(column: Column, value: Any, zone, project_names: dict[str, str]) -> str:
    """A value as the page shows it (not escaped): times in the user's zone, a user's
    projects by name."""
    if value is None or value == "":
        return ""
    if column.kind == "time":
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    if column.kind == "json" and isinstance(value, list):
        return ", ".join(
            str(item.get("name") or project_names.get(item.get("id"), item.get("id")))
            for item in value
            if isinstance(item, dict)
        )
    if column.kind == "json":
        return json.dumps(value)
    return plain(value)


def csv_rows(connector: Connector, query: DirectoryQuery) -> list[list[str]]:
    """The header and every filtered row, exact: read whole before the response starts
    (a directory is small), so an export never stops after its 200."""
    cols = columns(query.table)
    rows = filtered(connector, query)
    return [[c.name for c in cols], *([exact(c, getattr(r, c.field)) for c in cols] for r in rows)]
