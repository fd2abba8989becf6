"""Names for the ids in usage rows, from the connector's directory: projects (archived
ones marked), users and API keys (deleted ones marked), the raw id where none is known."""

from __future__ import annotations

from dataclasses import dataclass

from connectors.models import ApiKeyEntry, Connector, ProjectEntry, UserEntry


@dataclass(frozen=True)
class Name:
    text: str
    state: str = ""  # "archived", "deleted", "removed" or ""

    @property
    def label(self) -> str:
        """The name as shown outside the table: its state in brackets."""
        return f"{self.text} ({self.state})" if self.state else self.text


def names(connector: Connector, rows: list) -> dict[str, dict[str, Name]]:
    """Names for the ids on a page, from the connector's directory."""
    wanted: dict[str, set[str]] = {"projectId": set(), "userId": set(), "apiKeyId": set()}
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
    readers = {"projectId": _project_names, "userId": _user_names, "apiKeyId": _key_names}
    return {c: read(connector, wanted.get(c, set())) for c, read in readers.items()}


def _entries(model, connector: Connector, ids: set[str] | None):
    entries = model.objects.filter(connector=connector).order_by("row_id")
    return entries if ids is None else entries.filter(openai_id__in=ids)


def _project_names(connector, ids) -> dict[str, Name]:
    entries = _entries(ProjectEntry, connector, ids)
    return {
        pk: Name(name or pk, "archived" if archived else ("removed" if removed else ""))
        for pk, name, archived, removed in entries.values_list(
            "openai_id", "name", "archived_at", "removed_at"
        )
    }


def _user_names(connector, ids) -> dict[str, Name]:
    entries = _entries(UserEntry, connector, ids)
    return {
        pk: Name(name or email or pk, "removed" if removed else "")
        for pk, name, email, removed in entries.values_list(
            "openai_id", "name", "email", "removed_at"
        )
    }


def _key_names(connector, ids) -> dict[str, Name]:
    entries = _entries(ApiKeyEntry, connector, ids)
    return {
        pk: Name(name or pk, "deleted" if removed else "")
        for pk, name, removed in entries.values_list("openai_id", "name", "removed_at")
    }
