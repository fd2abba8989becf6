"""The connector's directory (projects, users, API keys, service accounts), kept fresh so
usage rows can be shown with names. Rows that disappear upstream are marked removed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
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

PageDone = Callable[[Counts], None]


def _time(value: Any) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if isinstance(value, int | float) else None


def _project(item: dict) -> dict:
    return {
        "name": item.get("name"),
        "created_at": _time(item.get("created_at")),
        "archived_at": _time(item.get("archived_at")),
        "status": item.get("status"),
    }


def _user(item: dict) -> dict:
    service = item.get("is_service_account")
    return {
        "name": item.get("name"),
        "email": item.get("email"),
        "role": item.get("role"),
        "added_at": _time(item.get("added_at")),
        "is_service_account": service if isinstance(service, bool) else None,
        "api_key_last_used_at": _time(item.get("api_key_last_used_at")),
        "projects": _projects(item.get("projects")),
    }


def _projects(listing: Any) -> list[dict] | None:
    """A user's projects as [{"id", "name", "role"}]; None when OpenAI did not say."""
    if not isinstance(listing, dict) or not isinstance(listing.get("data"), list):
        return None
    fields = ("id", "name", "role")
    return [{f: p.get(f) for f in fields} for p in listing["data"] if isinstance(p, dict)]


def _api_key(item: dict) -> dict:
    owner = item.get("owner") or {}
    who = owner.get(owner.get("type") or "", None) or {}
    return {
        "name": item.get("name"),
        "redacted_value": item.get("redacted_value"),
        "created_at": _time(item.get("created_at")),
        "last_used_at": _time(item.get("last_used_at")),
        "expires_at": _time(item.get("expires_at")),
        "owner_type": owner.get("type"),
        "owner_id": who.get("id"),
        "owner_name": who.get("name") or who.get("email"),
    }


def _service_account(item: dict) -> dict:
    return {
        "name": item.get("name"),
        "role": item.get("role"),
        "created_at": _time(item.get("created_at")),
    }


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
    path = "/organization/projects"
    return _listing(fetcher, ProjectEntry, connector, path, params, _project, {}, done, archived)


def refresh_users(fetcher: Fetcher, connector: Connector, done: PageDone, emails=()) -> None:
    params = {"emails": list(emails)} if emails else {}
    path = "/organization/users"
    _listing(fetcher, UserEntry, connector, path, params, _user, {}, done, not emails)


def refresh_project_members(fetcher, connector, project_ids, done: PageDone) -> None:
    """API keys and service accounts of each project. OpenAI refuses some listings of
    archived projects (400): what was stored for them is kept as it is."""
    members = (
        # Without owner_project_access=any, OpenAI hides some enabled keys.
        (ApiKeyEntry, "api_keys", _api_key, {"owner_project_access": "any"}),
        (ServiceAccountEntry, "service_accounts", _service_account, {}),
    )
    for project_id in project_ids:
        scope = {"project_id": project_id}
        for model, kind, shape, params in members:
            path = f"/organization/projects/{project_id}/{kind}"
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
