"""Celery tasks: what goes on the queue carries ids, never the key."""

from __future__ import annotations

import base64
import json

import pytest

from connectors import tasks
from connectors.collection import queue
from connectors.models import Connector
from connectors.openai.emulator import DEMO_ADMIN_KEY
from tests.fixtures_worker import purge_queue, queued_messages


@pytest.fixture
def default_queue():
    """The default queue, empty, on whichever broker the tests use."""
    purge_queue("celery")
    yield "celery"
    purge_queue("celery")


@pytest.mark.django_db(transaction=True)
def test_it_queues_key_rechecks_with_ids_only(default_queue, emulator_server):
    connector = Connector(kind="openai", name="Acme", base_url=emulator_server.base_url)
    connector.set_admin_key(DEMO_ADMIN_KEY)
    connector.save()
    tasks.connectors_recheck_all()
    messages = queued_messages(default_queue)
    assert len(messages) == 1
    envelope = json.loads(messages[0])
    raw = messages[0] + base64.b64decode(envelope["body"])  # the body travels base64-encoded
    assert DEMO_ADMIN_KEY.encode() not in raw
    assert connector.admin_key_encrypted.encode() not in raw
    assert b"connectors.tasks.connector_recheck" in raw


def test_it_rechecks_a_key_and_records_the_outcome(connector, emulator_server):
    connector.base_url = emulator_server.base_url
    connector.set_admin_key(DEMO_ADMIN_KEY)
    connector.key_error = "stale error"
    connector.save()
    tasks.connector_recheck(connector.pk)
    connector.refresh_from_db()
    assert connector.key_error == "" and connector.key_verified_at is not None


def test_it_skips_a_connector_deleted_since_it_was_queued(db):
    tasks.connector_recheck(424242)


def test_it_sends_runs_by_the_name_the_run_task_is_registered_under():
    """The queue names the Celery task instead of importing it (tasks.py imports the
    queue); the two must stay the same name."""
    assert queue.TASK_RUN == tasks.task_run.name == "connectors.tasks.task_run"
