"""The connector's directory (projects, users, API keys, service accounts), kept fresh so
usage rows can be shown with names. Rows that disappear upstream are marked removed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from connectors.models import (
    ApiKeyEntry,
    Connector,
    ProjectEntry,
    ServiceAccountEntry,
    UserEntry,
)
from connectors.openai.client import BadRequestError
from connectors.openai.collector import Fetcher, list_all
from connectors.openai.persistence import Counts
from connectors.openai.streams import DIRECTORY_STREAMS, SERVICE_ACCOUNTS, DirectoryStream, Field

PageDone = Callable[[Counts], None]
Shape = Callable[[dict], dict]

_STREAMS = {stream.type: stream for stream in (*DIRECTORY_STREAMS, SERVICE_ACCOUNTS)}
_FALLBACKS = {"ownerName": "owner.*.email"}  # a key's owner without a name: their email


def _shape(stream: DirectoryStream, model, scope: tuple[str, ...] = ()) -> Shape:
    """What one listed item stores, by the registry's fields: {model field: value}. The
    id, the object and the `scope` fields (taken from the path) are set by the caller."""
    by_column = {f.db_column or f.name: f for f in model._meta.concrete_fields}
    targets = [
        (field, by_column[field.column])
        for field in stream.fields
        if field.api not in ("id", "object") and by_column[field.column].name not in scope
    ]

    def shape(item: dict) -> dict:
        return {target.name: _value(item, field, target) for field, target in targets}

    return shape


def _value(item: dict, field: Field, target) -> Any:
    value = _get(item, field.api)
    if not value and field.column in _FALLBACKS:
        value = _get(item, _FALLBACKS[field.column])
    if isinstance(target, models.DateTimeField):
        return datetime.fromtimestamp(value, UTC) if isinstance(value, int | float) else None
    if field.type == "bool":
        return value if isinstance(value, bool) else None
    if field.type == "json":
        return _JSON[field.column](value)
    return value


def _get(item: dict, path: str) -> Any:
    """The value at a dotted path; "*" is the member the object's "type" names."""
    value: Any = item
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get((value.get("type") or "") if part == "*" else part)
    return value


def _projects(listing: Any) -> list[dict] | None:
    """A user's projects as [{"id", "name", "role"}]; None when OpenAI did not say."""
    if not isinstance(listing, dict) or not isinstance(listing.get("data"), list):
        return None
    fields = ("id", "name", "role")
    return [{f: p.get(f) for f in fields} for p in listing["data"] if isinstance(p, dict)]


_JSON = {"projects": _projects}  # the directory's JSON columns, each as stored


def _save(model, connector: Connector, items: list[dict], shape, scope: dict) -> Counts:
    """Upsert one page of a listing; `scope` holds the extra key fields (project_id)."""
    now = timezone.now()
    ids = [str(item["id"]) for item in items if item.get("id")]
    existing = set(
        model.objects.filter(connector=connector, openai_id__in=ids, **scope).values_list(
            "openai_id", flat=True
        )
    )
    entries = [
        model(
            connector=connector,
            openai_id=str(item["id"]),
            object=str(item.get("object") or ""),
            first_fetched_at=now,
            last_fetched_at=now,
            removed_at=None,
            **scope,
            **shape(item),
        )
        for item in items
        if item.get("id")
    ]
    updated = [f for f in (*shape({}).keys(), "object", "last_fetched_at", "removed_at")]
    model.objects.bulk_create(
        entries,
        update_conflicts=True,
        unique_fields=["connector", *scope, "openai_id"],
        update_fields=updated,
    )
    return Counts(inserted=len(set(ids) - existing), updated=len(existing & set(ids)))


def _listing(fetcher, model, connector, path, params, shape, scope, done, complete) -> list[str]:
    seen: list[str] = []
    for items in list_all(fetcher, path, params):
        with transaction.atomic():
            counts = _save(model, connector, items, shape, scope)
            done(counts)
        seen += [str(item["id"]) for item in items if item.get("id")]
    if complete:  # only a full listing can tell what disappeared upstream
        model.objects.filter(connector=connector, removed_at=None, **scope).exclude(
            openai_id__in=seen
        ).update(removed_at=timezone.now())
    return seen


def refresh_projects(fetcher: Fetcher, connector: Connector, done: PageDone, archived=True):
    params = {"include_archived": "true" if archived else "false"}
    stream = _STREAMS["projects"]
    shape = _shape(stream, ProjectEntry)
    return _listing(
        fetcher, ProjectEntry, connector, stream.path, params, shape, {}, done, archived
    )


def refresh_users(fetcher: Fetcher, connector: Connector, done: PageDone, emails=()) -> None:
    params = {"emails": list(emails)} if emails else {}
    stream = _STREAMS["users"]
    shape = _shape(stream, UserEntry)
    _listing(fetcher, UserEntry, connector, stream.path, params, shape, {}, done, not emails)


def refresh_project_members(fetcher, connector, project_ids, done: PageDone) -> None:
    """API keys and service accounts of each project. OpenAI refuses some listings of
    archived projects (400): what was stored for them is kept as it is."""
    members = (
        # Without owner_project_access=any, OpenAI hides some enabled keys.
        (ApiKeyEntry, _STREAMS["api_keys"], {"owner_project_access": "any"}),
        (ServiceAccountEntry, _STREAMS["service_accounts"], {}),
    )
    shapes = [
        (model, stream, _shape(stream, model, ("project_id",)), p) for model, stream, p in members
    ]
    for project_id in project_ids:
        scope = {"project_id": project_id}
        for model, stream, shape, params in shapes:
            path = stream.path.format(project_id=project_id)
            try:
                _listing(fetcher, model, connector, path, params, shape, scope, done, True)
            except BadRequestError:
                continue


def refresh_all(fetcher: Fetcher, connector: Connector, done: PageDone) -> None:
    project_ids = refresh_projects(fetcher, connector, done)
    refresh_users(fetcher, connector, done)
    refresh_project_members(fetcher, connector, project_ids, done)
    connector.directory_refreshed_at = timezone.now()
    connector.save(update_fields=["directory_refreshed_at"])
