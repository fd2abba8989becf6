"""Real Celery worker processes for end-to-end tests: a queue of the test's own on the
broker (Redis, or the embedded default's filesystem broker), and workers reading it
against the test database (Postgres, or the SQLite file the tests use)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection

from datahub.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[1]


def on_redis() -> bool:
    return settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://"))


def _message_files(queue: str) -> list[Path]:
    folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_out"])
    return sorted(folder.glob(f"*.{queue}.msg"))


def queued_messages(queue: str) -> list[bytes]:
    """The raw messages waiting on a queue, on either broker."""
    if on_redis():
        return redis.Redis.from_url(settings.CELERY_BROKER_URL).lrange(queue, 0, -1)
    return [path.read_bytes() for path in _message_files(queue)]


def database_url() -> str:
    """The test database, for a worker process (the SQLite test database is a file)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def purge_queue(queue: str) -> None:
    if on_redis():
        redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(queue)
    else:
        for path in _message_files(queue):
            path.unlink(missing_ok=True)


@pytest.fixture
def queue():
    """A queue of this test's own on the broker, so no stray message reaches it."""
    name = f"datahub-test-{uuid.uuid4().hex[:8]}"
    previous = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = name
    yield name
    celery_app.conf.task_default_queue = previous
    purge_queue(name)


@pytest.fixture
def start_worker(queue):
    env = os.environ | {
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_QUEUE": queue,
        "RUN_STALE_AFTER_SECONDS": "1",
        "RUN_HEARTBEAT_SECONDS": "0.2",
        "OPENAI_RETRY_BASE_SECONDS": "0.01",
    }
    workers = []

    def start() -> subprocess.Popen:
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "datahub",
            "worker",
            "--pool",
            "solo",
            "--loglevel",
            "WARNING",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
        ]
        worker = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(20)
