"""A worker outlives its broker: started while Redis is down it waits for it, and after a
Redis restart (empty: the old messages are gone) it executes the next task sent."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from celery import Celery

from tests.redis_server import RedisServer

ROOT = Path(__file__).resolve().parents[2]


def executed(log: Path, task_id: str, seconds: float = 60) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if f"[{task_id}] succeeded" in log.read_text():
            return True
        time.sleep(0.2)
    return False


def send(broker_url: str) -> str:
    """Send a built-in task (it adds up its arguments) the way the web sends a run."""
    task_id = uuid.uuid4().hex
    # The connection is named: the CELERY_BROKER_URL of the test run would win otherwise.
    sender = Celery()
    with sender.connection_for_write(broker_url) as connection:
        sender.send_task("celery.accumulate", (1, 2), task_id=task_id, connection=connection)
    return task_id


@pytest.mark.slow
def test_it_keeps_a_worker_through_a_redis_restart_and_runs_the_next_task(tmp_path):
    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server")
    redis_server = RedisServer()
    env = os.environ | {"CELERY_BROKER_URL": redis_server.url, "DATAHUB_VAR_DIR": str(tmp_path)}
    env.pop("DATABASE_URL", None)
    env.pop("CELERY_QUEUE", None)
    command = [sys.executable, "-m", "celery", "-A", "datahub", "worker", "--pool", "solo"]
    command += ["--loglevel", "INFO", "--without-heartbeat", "--without-gossip"]
    command += ["--without-mingle"]
    log = tmp_path / "worker.log"
    with open(log, "w") as out:
        worker = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        time.sleep(2)  # the worker starts while Redis is down
        assert worker.poll() is None
        redis_server.start()
        assert executed(log, send(redis_server.url))

        redis_server.stop()
        time.sleep(3)
        assert worker.poll() is None
        redis_server.start()
        assert executed(log, send(redis_server.url)), log.read_text()[-3000:]
        assert worker.poll() is None
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(20)
        redis_server.stop()
