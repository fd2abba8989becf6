"""The organization directory endpoints: projects, users, keys, service accounts, limits.

What is listed depends on the clock: an entity appears at its creation time, a project
is archived at its archive time, a deleted key disappears (its usage stays).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from connectors.openai.emulator.errors import ApiError, invalid, not_found
from connectors.openai.emulator.mix import text_key
from connectors.openai.emulator.org import ApiKey, Member, Org, Project
from connectors.openai.emulator.params import Params, array, boolean, bounded, choice, scalar
from connectors.openai.streams import DIRECTORY_PAGE_LIMIT, DIRECTORY_STREAMS

_ACCESS = ("active", "inactive", "any")


def project_object(project: Project, now: int) -> dict:
    archived = project.archived_at if project.archived_at and project.archived_at <= now else None
    return {
        "id": project.id,
        "object": "organization.project",
        "name": project.name,
        "created_at": project.created_at,
        "archived_at": archived,
        "status": "archived" if archived else "active",
        "external_key_id": None,
        "residency": project.residency,
    }


def user_object(org: Org, user_id: str, now: int) -> dict:
    """A user with the 2026 fields: the emulated users are all people (service accounts
    are listed per project), their last key use and their projects."""
    user = org.user(user_id)
    used = [
        _last_used(org, k, now) for k in org.keys if k.user_id == user.id and k.created_at <= now
    ]
    memberships = [
        {"id": p.id, "name": p.name, "role": m.role}
        for p in org.projects
        if p.created_at <= now
        for m in p.members
        if m.user_id == user.id and m.added_at <= now
    ]
    return {
        "object": "organization.user",
        "id": user.id,
        "name": user.name,
        "email": user.email,
        "role": user.role,
        "added_at": user.added_at,
        "is_default": user.id == org.users[0].id,
        "is_service_account": False,
        "api_key_last_used_at": max((t for t in used if t), default=None),
        "projects": {"object": "list", "data": memberships},
    }


def project_user_object(org: Org, member: Member) -> dict:
    user = org.user(member.user_id)
    return {
        "object": "organization.project.user",
        "id": user.id,
        "name": user.name,
        "email": user.email,
        "role": member.role,
        "added_at": member.added_at,
    }


def api_key_object(org: Org, key: ApiKey, now: int) -> dict:
    project = org.project(key.project_id)
    if key.owner_kind == "user":
        member = next(m for m in project.members if m.user_id == key.owner_id)
        user = org.user(key.owner_id)
        owner = {
            "type": "user",
            "user": {
                "id": user.id,
                "email": user.email,
                "name": user.name,
                "created_at": user.added_at,
                "role": member.role,
            },
        }
        prefix = "sk-proj-"
    else:
        account = next(s for s in project.service_accounts if s.id == key.owner_id)
        owner = {
            "type": "service_account",
            "service_account": {
                "id": account.id,
                "name": account.name,
                "created_at": account.created_at,
                "role": account.role,
            },
        }
        prefix = "sk-svcacct-"
    return {
        "object": "organization.project.api_key",
        "redacted_value": f"{prefix}...{key.tail}",
        "name": key.name,
        "created_at": key.created_at,
        "last_used_at": _last_used(org, key, now),
        "expires_at": key.expires_at,
        "id": key.id,
        "owner_project_access": key.owner_access,
        "owner": owner,
    }


def _last_used(org: Org, key: ApiKey, now: int) -> int | None:
    end = min(now, org.usage_end(key) or now)
    if not key.used or end <= key.created_at:
        return None
    return max(key.created_at, (end - text_key(key.id) % 7200) // 60 * 60)


def admin_key_object(org: Org, index: int, now: int) -> dict:
    key = org.admin_keys[index]
    owner = org.user(key.owner_id)
    used = now // 60 * 60 if index == 0 else min(now, key.created_at + (index + 1) * 86_400)
    return {
        "object": "organization.admin_api_key",
        "id": key.id,
        "name": key.name,
        "redacted_value": f"sk-admin...{key.tail}",
        "created_at": key.created_at,
        "expires_at": key.expires_at,
        "last_used_at": used,
        "owner": {
            "type": "user",
            "object": "organization.user",
            "id": owner.id,
            "name": owner.name,
            "created_at": owner.added_at,
            "role": owner.role,
        },
    }


def spend_limit_object(kind: str, cents: int | None) -> dict:
    return {
        "object": kind,
        "threshold_amount": cents or 0,
        "currency": "USD",
        "interval": "month",
        "enforcement": {"status": "enforcing" if cents else "inactive"},
    }


def directory_truth(org: Org, now: int) -> dict[str, object]:
    """The whole directory as the API shows it at `now`, every list unpaginated."""
    projects = [p for p in org.projects if p.created_at <= now]
    return {
        "projects": [project_object(p, now) for p in projects],
        "users": [user_object(org, u.id, now) for u in org.users if u.added_at <= now],
        "api_keys": {
            p.id: [api_key_object(org, k, now) for k in _keys(org, p, now, "any")] for p in projects
        },
        "project_users": {
            p.id: [project_user_object(org, m) for m in p.members if m.added_at <= now]
            for p in projects
        },
        "service_accounts": {
            p.id: [_account(s) for s in p.service_accounts if s.created_at <= now] for p in projects
        },
        "admin_api_keys": [
            admin_key_object(org, i, now)
            for i, k in enumerate(org.admin_keys)
            if k.created_at <= now
        ],
    }


def _account(account) -> dict:
    return {
        "object": "organization.project.service_account",
        "id": account.id,
        "name": account.name,
        "role": account.role,
        "created_at": account.created_at,
    }


def _keys(org: Org, project: Project, now: int, access: str | None) -> list[ApiKey]:
    return [
        k
        for k in org.keys
        if k.project_id == project.id
        and k.created_at <= now
        and (k.deleted_at is None or k.deleted_at > now)
        and (access == "any" or k.owner_access == (access or "active"))
    ]


def page(items: list[dict], params: Params, order: str = "asc") -> dict:
    """One page of a directory list: `after` is the id of the last item already seen."""
    limit = bounded(params, "limit", 20, DIRECTORY_PAGE_LIMIT)
    items = items[::-1] if order == "desc" else items
    after = scalar(params, "after")
    start = 0
    if after:
        ids = [item["id"] for item in items]
        if after not in ids:
            raise invalid("after", f"Invalid 'after': no object with id '{after}' in this list.")
        start = ids.index(after) + 1
    data = items[start : start + limit]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": start + limit < len(items),
    }


def _project(org: Org, now: int, project_id: str) -> Project:
    project = org.project(project_id)
    if project is None or project.created_at > now:
        raise not_found(f"No project found with id '{project_id}'.")
    return project


def _active_project(org: Org, now: int, project_id: str) -> Project:
    project = _project(org, now, project_id)
    if project.archived_at and project.archived_at <= now:
        raise ApiError(400, f"Project '{project_id}' is archived.", param="project_id")
    return project


def list_projects(org: Org, now: int, params: Params) -> dict:
    archived = boolean(params, "include_archived")
    found = [project_object(p, now) for p in org.projects if p.created_at <= now]
    return page([p for p in found if archived or p["status"] == "active"], params)


def list_users(org: Org, now: int, params: Params) -> dict:
    emails = {e.lower() for e in array(params, "emails")}
    found = [u for u in org.users if u.added_at <= now and (not emails or u.email in emails)]
    return page([user_object(org, u.id, now) for u in found], params)


def list_api_keys(org: Org, now: int, params: Params, project_id: str) -> dict:
    access = choice(params, "owner_project_access", _ACCESS, None)
    project = _project(org, now, project_id)
    return page([api_key_object(org, k, now) for k in _keys(org, project, now, access)], params)


def get_api_key(org: Org, now: int, params: Params, project_id: str, api_key_id: str) -> dict:
    project = _project(org, now, project_id)
    for key in _keys(org, project, now, "any"):
        if key.id == api_key_id:
            return api_key_object(org, key, now)
    raise not_found(f"No API key found with id '{api_key_id}'.")


def list_project_users(org: Org, now: int, params: Params, project_id: str) -> dict:
    project = _active_project(org, now, project_id)
    members = [m for m in project.members if m.added_at <= now]
    return page([project_user_object(org, m) for m in members], params)


def list_service_accounts(org: Org, now: int, params: Params, project_id: str) -> dict:
    project = _active_project(org, now, project_id)
    found = [_account(s) for s in project.service_accounts if s.created_at <= now]
    return page(found, params)


def get_project(org: Org, now: int, params: Params, project_id: str) -> dict:
    return project_object(_project(org, now, project_id), now)


def get_user(org: Org, now: int, params: Params, user_id: str) -> dict:
    user = org.user(user_id)
    if user is None or user.added_at > now:
        raise not_found(f"No user found with id '{user_id}'.")
    return user_object(org, user_id, now)


def list_admin_keys(org: Org, now: int, params: Params) -> dict:
    order = choice(params, "order", ("asc", "desc"), "asc")
    keys = [
        admin_key_object(org, i, now) for i, k in enumerate(org.admin_keys) if k.created_at <= now
    ]
    return page(keys, params, order)


def get_admin_key(org: Org, now: int, params: Params, key_id: str) -> dict:
    for item in list_admin_keys(org, now, {"limit": ["100"]})["data"]:
        if item["id"] == key_id:
            return item
    raise not_found(f"No admin API key found with id '{key_id}'.")


def org_spend_limit(org: Org, now: int, params: Params) -> dict:
    return spend_limit_object("organization.spend_limit", org.spend_limit_cents)


def project_spend_limit(org: Org, now: int, params: Params, project_id: str) -> dict:
    project = _project(org, now, project_id)
    return spend_limit_object("project.spend_limit", project.spend_limit_cents)


Handler = Callable[..., dict]
_LISTS: dict[str, Handler] = {
    "projects": list_projects,
    "users": list_users,
    "api_keys": list_api_keys,
}
_OTHERS: tuple[tuple[str, Handler], ...] = (
    ("/organization/projects/{project_id}", get_project),
    ("/organization/projects/{project_id}/api_keys/{api_key_id}", get_api_key),
    ("/organization/projects/{project_id}/users", list_project_users),
    ("/organization/projects/{project_id}/service_accounts", list_service_accounts),
    ("/organization/projects/{project_id}/spend_limit", project_spend_limit),
    ("/organization/users/{user_id}", get_user),
    ("/organization/admin_api_keys", list_admin_keys),
    ("/organization/admin_api_keys/{key_id}", get_admin_key),
    ("/organization/spend_limit", org_spend_limit),
)


# The query parameters each list takes besides `limit` and `after` (the spec's);
# retrieving one object takes none.
_LIST_PARAMS: dict[Handler, tuple[str, ...]] = {
    list_projects: ("include_archived",),
    list_users: ("emails",),
    list_api_keys: ("owner_project_access",),
    list_project_users: (),
    list_service_accounts: (),
    list_admin_keys: ("order",),
}


def _pattern(template: str) -> re.Pattern:
    return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template) + "$")


def _known(handler: Handler) -> frozenset[str]:
    extra = _LIST_PARAMS.get(handler)
    return frozenset() if extra is None else frozenset(("limit", "after", *extra))


ROUTES: tuple[tuple[re.Pattern, Handler, frozenset[str]], ...] = tuple(
    (_pattern(template), handler, _known(handler))
    for template, handler in (
        *((s.path, _LISTS[s.type]) for s in DIRECTORY_STREAMS if s.type in _LISTS),
        *_OTHERS,
    )
)
