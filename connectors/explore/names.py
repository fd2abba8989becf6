"""Names for the ids in usage rows, from the connector's directory: projects (archived
ones marked), users and API keys (deleted ones marked), the raw id where none is known."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from django.db.models import Q, QuerySet

from connectors.models import USAGE_TABLES, ApiKeyEntry, Connector, ProjectEntry, UserEntry
from connectors.openai.streams import COLUMNS, DIMENSIONS


@dataclass(frozen=True)
class Name:
    text: str
    state: str = ""  # "archived", "deleted", "removed" or ""

    @property
    def label(self) -> str:
        """The name as shown outside the table: its state in brackets."""
        return f"{self.text} ({self.state})" if self.state else self.text


# The usage columns whose ids the directory names → the directory stream that names them.
NAMED = {f.column: f.directory for f in DIMENSIONS.values() if f.directory}


def name_column(column: str) -> str:
    """`projectId` → `projectName`: the name of a NAMED column's ids, as the table pages,
    Export CSV and the Data API call it."""
    return column.removesuffix("Id") + "Name"


def missing_states(connector: Connector) -> dict[str, str]:
    """{column: the state of an id its directory does not list}: every key of every
    project is listed once the directory has been read, so a key that is not was
    deleted. Other ids may simply not be listed (yet): they have no state."""
    return {"apiKeyId": "deleted"} if connector.directory_refreshed_at is not None else {}


def names(connector: Connector, rows: list) -> dict[str, dict[str, Name]]:
    """Names for the ids on a page, from the connector's directory."""
    wanted: dict[str, set[str]] = {column: set() for column in NAMED}
    for row in rows:
        for column, ids in wanted.items():
            value = getattr(row, column, None)
            if value:
                ids.add(value)
    return names_of(connector, wanted)


def names_of(
    connector: Connector, wanted: dict[str, set[str] | None]
) -> dict[str, dict[str, Name]]:
    """Names for the ids of each named column ({"projectId": {...}, ...}); None for a
    column's ids means its whole directory. Where an id is listed twice (a key under two
    projects), the entry read last wins: the newest."""
    found: dict[str, dict[str, Name]] = {column: {} for column in NAMED}
    for column, directory in NAMED.items():
        model, email, archived = _SOURCES[directory]
        ids = wanted.get(column, set())
        if ids is not None and not ids:
            continue
        entries = model.objects.filter(connector=connector)
        if ids is not None:
            entries = entries.filter(openai_id__in=ids)
        shown = ["openai_id", "name", "removed_at", *(f for f in (email, archived) if f)]
        for entry in entries.order_by("row_id").values(*shown):
            found[column][entry["openai_id"]] = _name(column, entry)
    return found


# A directory that names ids → (its model, its email field or None, its archived field or None)
_SOURCES = {
    "projects": (ProjectEntry, None, "archived_at"),
    "users": (UserEntry, "email", None),
    "api_keys": (ApiKeyEntry, None, None),
}


def _name(column: str, entry: dict) -> Name:
    """An entry's name and state; a user without a name by their email."""
    openai_id, name, removed = entry["openai_id"], entry["name"], entry["removed_at"]
    if column == "projectId":
        archived = entry.get("archived_at") is not None
        return Name(name or openai_id, "archived" if archived else ("removed" if removed else ""))
    if column == "userId":
        return Name(name or entry.get("email") or openai_id, "removed" if removed else "")
    return Name(name or openai_id, "deleted" if removed else "")


def directory(connector: Connector, columns: list[str]) -> dict[str, dict[str, Name]]:
    """The whole directory of each named column among `columns` (a query each): a page
    names its rows and offers its filters' type-ahead lists from it."""
    return names_of(connector, {c: None for c in columns if c in NAMED})


def named_like(connector: Connector, text: str) -> dict[str, QuerySet]:
    """{column: the ids of the directory entries named like `text` (a user also by
    email)}, for each NAMED column: the search box's matches by name."""
    found = {}
    for column, directory in NAMED.items():
        model, email, _ = _SOURCES[directory]
        like = Q(name__icontains=text)
        if email:
            like |= Q(**{f"{email}__icontains": text})
        entries = model.objects.filter(like, connector=connector)
        found[column] = entries.values("openai_id")
    return found


def directory_choices(found: dict[str, dict[str, Name]]) -> dict[str, list[tuple]]:
    """{column: [(value, "name · id · state"), ...]}: a filter's type-ahead list, from
    `directory`. The value is the name, or the id where a name is shared (or missing)."""
    choices: dict[str, list[tuple]] = {}
    for column, entries in found.items():
        counts: dict[str, int] = {}
        for name in entries.values():
            counts[name.text.casefold()] = counts.get(name.text.casefold(), 0) + 1
        options = []
        for openai_id, name in sorted(entries.items(), key=lambda e: (e[1].text.casefold(), e[0])):
            shared = counts[name.text.casefold()] > 1 or name.text == openai_id
            hint = f"{openai_id} · {name.state}" if name.state else openai_id
            options.append((openai_id if shared else name.text, f"{name.text} · {hint}"))
        choices[column] = options
    return choices


def resolve(connector: Connector, column: str, value: str) -> tuple[str, str]:
    """A filter's value as the id it means: an id as it is; a name (or a user's email),
    in any case, as the id of the entry so named. Returns (id, a problem in words or "")."""
    entries = names_of(connector, {column: None})[column]
    if value in entries or not entries:
        return value, ""
    wanted = value.casefold()
    named = [i for i, n in entries.items() if n.text.casefold() == wanted]
    if column == "userId" and not named:
        named = _by_email(connector, wanted)
    kind = COLUMNS[column].label
    if not named:
        if _looks_like_id(value):
            return value, ""
        return value, f"No {kind} named or with the id “{value[:60]}” in the directory."
    named.sort(key=lambda i: (entries[i].state != "", i))  # an active one first
    if len(named) > 1:
        others = ", ".join(named[1:])
        shown = f"{len(named)} {kind}s are named “{value[:60]}”; showing {named[0]} "
        return named[0], shown + f"(the others: {others}; pick one by id)."
    return named[0], ""


def _by_email(connector: Connector, email: str) -> list[str]:
    users = UserEntry.objects.filter(connector=connector, email__iexact=email)
    return list(users.values_list("openai_id", flat=True))


def _looks_like_id(value: str) -> bool:
    return value.startswith(("proj_", "user-", "key_", "sk-"))


LINE_ITEMS_READ = 20_000  # the newest costs rows whose line items are offered


def line_items_seen(connector: Connector) -> list[str]:
    """The cost line items ("gpt-4o-2024-08-06, input") of the connector's newest costs
    rows, sorted: the LINE ITEMS picker's and the LINE ITEM filter's type-ahead lists.

    Costs have no rollup to read them from, so the read is bounded: the newest
    LINE_ITEMS_READ rows along the connector-and-time index, whatever the table's size.
    A line item not among them can still be typed."""
    model = USAGE_TABLES["costs"]
    meta, quote = model._meta, connection.ops.quote_name

    def column(name: str) -> str:
        return quote(meta.get_field(name).column)

    item = column("lineItem")
    newest = (
        f"SELECT {item} FROM {quote(meta.db_table)} WHERE {column('connector')} = %s"  # noqa: S608
        f" ORDER BY {column('start_time')} DESC LIMIT %s"
    )
    sql = f"SELECT DISTINCT {item} FROM ({newest}) newest WHERE {item} IS NOT NULL"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [connector.pk, LINE_ITEMS_READ])
        return sorted(row[0] for row in cursor.fetchall())
