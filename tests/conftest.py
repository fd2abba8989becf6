from __future__ import annotations

import os

import pytest
from django.test import Client

from connectors.models import Connector, Task

pytest_plugins = ["tests.fixtures_emulator", "tests.fixtures_servers", "tests.fixtures_worker"]

# Playwright's sync API runs an event loop in the test thread; Django's ORM calls from
# the test body are still synchronous and safe there.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ADMIN_KEY_FOR_FIXTURES = "sk-admin-fixture-key-not-checked-0000abcd"


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
