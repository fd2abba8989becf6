"""Real Celery worker processes for end-to-end tests: a queue of the test's own on Redis,
and workers reading it against the test database."""

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


@pytest.fixture
def queue():
    """A queue of this test's own on the Redis broker, so no stray message reaches it."""
    if connection.vendor != "postgresql" or not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.skip("needs Postgres and the Redis broker (make test sets them when they answer)")
    name = f"datahub-test-{uuid.uuid4().hex[:8]}"
    previous = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = name
    yield name
    celery_app.conf.task_default_queue = previous
    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(name)


@pytest.fixture
def start_worker(queue):
    db = connection.settings_dict
    env = os.environ | {
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
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
