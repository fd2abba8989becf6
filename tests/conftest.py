from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from connectors.models import Connector, Task

pytest_plugins = ["tests.fixtures_emulator", "tests.fixtures_servers", "tests.fixtures_worker"]

# Playwright's sync API runs an event loop in the test thread; Django's ORM calls from
# the test body are still synchronous and safe there.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ADMIN_KEY_FOR_FIXTURES = "sk-admin-fixture-key-not-checked-0000abcd"


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory):
    """On SQLite the test database is a file (per xdist worker), not memory, so that the
    worker and server processes a test starts share it."""
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        db.setdefault("TEST", {})["NAME"] = str(tmp_path_factory.mktemp("db") / "test.sqlite3")


@pytest.fixture(scope="session", autouse=True)
def _filesystem_broker_folders():
    """The embedded default's broker folders, as `rundatahub` makes them at start."""
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        for folder in settings.CELERY_BROKER_TRANSPORT_OPTIONS.values():
            Path(folder).mkdir(parents=True, exist_ok=True)


@pytest.fixture(autouse=True)
def _heartbeat_outside_a_sqlite_test_transaction(request):
    """A test that is one SQLite transaction holds the database's write lock until it
    ends, so a run it executes in process would have its heartbeat thread (another
    connection) wait on that lock until the timeout. Such a run does not beat; runs in
    transactional tests and in worker processes do."""
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        marker = request.node.get_closest_marker("django_db")
        transactional = "transactional_db" in request.fixturenames or (
            marker is not None and marker.kwargs.get("transaction", False)
        )
        if not transactional:
            request.getfixturevalue("settings").RUN_HEARTBEAT_SECONDS = 24 * 3600


@pytest.fixture
def user(django_user_model):
    """A Data administrator (staff)."""
    return django_user_model.objects.create_user("ada", password="pw-ada-123", is_staff=True)


@pytest.fixture
def other_user(django_user_model):
    """A logged-in user who may view but not change anything."""
    return django_user_model.objects.create_user("vic", password="pw-vic-123")


@pytest.fixture
def staff_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def viewer_client(other_user) -> Client:
    client = Client()
    client.force_login(other_user)
    return client


@pytest.fixture
def connector(db) -> Connector:
    connector = Connector(
        kind="openai", name="Acme org", description="Production", base_url="http://127.0.0.1:9/v1"
    )
    connector.set_admin_key(ADMIN_KEY_FOR_FIXTURES)
    connector.save()
    return connector


@pytest.fixture
def task(connector) -> Task:
    return Task.objects.create(
        connector=connector,
        name="Completions by project",
        query_type="completions",
        parameters={
            "type": "completions",
            "completions-StartTime": "2026-01-01",
            "completions-EndTime": "2026-02-01",
            "completions-BucketWidth": "1d",
            "completions-GroupBy": ["project_id", "model"],
            "completions-ProjectIds": [],
            "completions-UserIds": [],
            "completions-ApiKeyIds": [],
            "completions-Models": [],
            "completions-Batch": None,
        },
    )
