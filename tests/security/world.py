"""The saved objects a fuzz run aims at: users of each role, a connector whose known
admin key is collected with from the emulator, its tasks and runs, and a trap server
that must never receive the key."""

from __future__ import annotations

import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.utils import timezone

from connectors.collection import engine
from connectors.dataapi import keys
from connectors.models import Connector, DataApiKey, Preference, Task, TaskRun
from connectors.openai.emulator import DEFAULT_SEED, Emulator, serve_in_thread
from connectors.setup.task_form import TaskForm

CONNECTOR_NAME = "Fuzzed org"
PASSWORD = "pw-fuzz-9f3k2m"
USERS = {  # username: (staff and superuser, time zone: the calendar's far ends)
    "fuzz-viewer": (False, "Pacific/Kiritimati"),
    "fuzz-admin": (True, "Etc/GMT+12"),
}


class _TrapHandler(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        self.server.received.append(self.headers.get("Authorization", ""))
        body = b'{"error": {"message": "Invalid key", "type": "invalid_request_error"}}'
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args) -> None:
        pass


class Trap:
    """An HTTP server posing as another Admin API: it records every Authorization header
    it is sent and refuses them all."""

    def __init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _TrapHandler)
        self.server.received = []
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def received(self, secret: str) -> bool:
        return any(secret in header for header in self.server.received)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class World:
    secret: str  # the fixture connector's admin key, in plain
    emulator_url: str
    trap: Trap
    stack: ExitStack = field(default_factory=ExitStack)
    data_api_key: str = ""  # an administrator's requests carry it (the Data API's header)

    def secrets(self) -> tuple[list[str], list[str]]:
        """The keys in plain, and the admin keys' ciphertexts at rest."""
        encrypted = Connector.objects.filter(name=CONNECTOR_NAME).values_list(
            "admin_key_encrypted", flat=True
        )
        return [self.secret, self.data_api_key], list(encrypted)

    def headers(self, role: str) -> dict[str, str]:
        return {"ApiKey": self.data_api_key} if role == "administrator" else {}

    def clients(self, **options) -> dict[str, Client]:
        """A Django test client per role, logged in."""
        users = get_user_model().objects
        found = {"anonymous": Client(**options)}
        for role, username in (("viewer", "fuzz-viewer"), ("administrator", "fuzz-admin")):
            found[role] = Client(headers=self.headers(role), **options)
            found[role].force_login(users.get(username=username))
        return found

    def close(self) -> None:
        self.stack.close()
        self.trap.close()


def start(secret: str) -> World:
    """Serve the emulator (granting `secret`) and the trap; nothing saved yet."""
    stack = ExitStack()
    emulator = Emulator(seed=DEFAULT_SEED, now=int(time.time()) // 3600 * 3600)
    emulator.add_key(secret)
    server = stack.enter_context(serve_in_thread(emulator))
    return World(secret, server.base_url, Trap(), stack)


def seed(world: World) -> None:
    """Users, the connector and its tasks, collected: what `missing` checks is made."""
    users = get_user_model().objects
    for username, (admin, zone) in USERS.items():
        user = users.filter(username=username).first() or users.create_user(username)
        user.set_password(PASSWORD)
        user.is_staff = user.is_superuser = admin
        user.is_active = True
        user.save()
        Preference.objects.update_or_create(user=user, defaults={"time_zone": zone})
    if not DataApiKey.objects.filter(name=CONNECTOR_NAME).exists():
        world.data_api_key = keys.key_create(CONNECTOR_NAME).secret
        # Its use is noted at most once a minute, whether the query is answered or
        # refused: noted ahead, that bookkeeping never lands amid the fuzzing.
        ahead = timezone.now() + timedelta(days=1)
        DataApiKey.objects.filter(name=CONNECTOR_NAME).update(last_used_at=ahead)
    if Connector.objects.filter(name=CONNECTOR_NAME).exists():
        return
    connector = Connector(
        kind="openai", name=CONNECTOR_NAME, base_url=world.emulator_url, requests_per_minute=0
    )
    connector.set_admin_key(world.secret)
    connector.save()
    today = datetime.now(UTC).date()
    for name, query_type, days, params in (
        ("Daily completions", "completions", 3, {}),
        ("Daily costs", "costs", 2, {"GroupBy": ["line_item"]}),
    ):
        start = (today - timedelta(days=days)).isoformat()
        params = {"StartTime": start, "GroupBy": ["project_id", "model"], **params}
        task = _task(connector, name, query_type, params)
        run = TaskRun.objects.create(task=task, trigger="manual")
        engine.run_execute(run.pk)
    first = connector.tasks.order_by("pk").first()  # the one forms are fuzzed on: scheduled
    first.schedule_enabled, first.schedule_start = True, datetime.now(UTC)
    first.interval_unit, first.interval_every = "daily", 1
    first.save()
    everything = _task(connector, "Everything", "all", {}, {"shared-StartTime": today})
    TaskRun.objects.create(task=everything, trigger="manual")  # queued: it can be cancelled


def _task(connector: Connector, name: str, query_type: str, params: dict, shared=None) -> Task:
    """A task with the parameters the task form saves for these values."""
    data = {f"{query_type}-{k}": v for k, v in params.items()} | (shared or {})
    form = TaskForm({"name": name, "type": query_type, **data}, query_type=query_type)
    if not form.is_valid():
        raise AssertionError(f"the seeded task {name!r} is invalid: {form.errors!r}")
    return Task.objects.create(
        connector=connector, name=name, query_type=query_type, parameters=form.parameters()
    )


def missing() -> bool:
    """Whether a request took away part of the seeded world (an administrator may delete
    the connector or a task, or a user): then `unseed` and `seed` again."""
    users = get_user_model().objects.filter(username__in=USERS, is_active=True)
    tasks = Task.objects.filter(connector__name=CONNECTOR_NAME)
    return users.count() < len(USERS) or tasks.count() < 3


def unseed() -> None:
    DataApiKey.objects.filter(name=CONNECTOR_NAME).delete()
    Connector.objects.filter(name=CONNECTOR_NAME).delete()
    get_user_model().objects.filter(username__in=USERS).delete()
    Session.objects.all().delete()


# What a refused request may write: its session, and the sign-in attempts counted to
# throttle sign-ins (django-axes).
SNAPSHOT_EXCLUDED_APPS = {"sessions", "axes"}


def _excluded() -> list[str]:
    from django.apps import apps

    return sorted(
        m._meta.db_table for m in apps.get_models() if m._meta.app_label in SNAPSHOT_EXCLUDED_APPS
    )


def snapshot_sql() -> str:
    """One statement counting every table's rows and summing their `xmin` (the
    transaction that wrote each version of a row), on Postgres; SQLite has no `xmin`, so
    there a statement per table reads its rows, which `snapshot` counts and hashes: equal
    before and after a request that inserted, updated and deleted nothing."""
    from django.apps import apps

    tables = sorted({m._meta.db_table for m in apps.get_models()} - set(_excluded()))
    quote = connection.ops.quote_name
    if connection.vendor == "sqlite":
        return ";\n".join(f"SELECT * FROM {quote(t)} ORDER BY rowid" for t in tables)
    return " UNION ALL ".join(
        f"SELECT '{t}', count(*), coalesce(sum(r.xmin::text::bigint), 0) FROM {quote(t)} r"
        for t in tables
    )


def writes() -> int:
    """Rows this transaction has inserted, updated or deleted so far (Postgres keeps the
    count per transaction; SQLite per connection, `total_changes`): cheap, where
    `snapshot` reads every row."""
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        return connection.connection.total_changes
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)"
            " FROM pg_stat_xact_user_tables WHERE relname <> ALL(%s)",
            [_excluded()],
        )
        return cursor.fetchone()[0]


def snapshot(sql: str) -> dict[str, tuple[int, int]]:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":  # a statement per table: its rows and their hash
            tables = {}
            for statement in sql.split(";\n"):
                cursor.execute(statement)
                rows = cursor.fetchall()
                tables[statement] = (len(rows), hash(tuple(rows)))
            return tables
        cursor.execute(sql)
        return {table: (count, total) for table, count, total in cursor.fetchall()}
