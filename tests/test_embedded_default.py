"""`make run` on the embedded default: SQLite and the filesystem broker, nothing else."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, seconds: float = 120) -> httpx.Response:
    deadline = time.monotonic() + seconds
    while True:
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def children_of(pid: int) -> dict[int, str]:
    out = subprocess.run(
        ["ps", "-o", "pid=,args=", "--ppid", str(pid)], capture_output=True, text=True
    )
    return {int(line.split(None, 1)[0]): line.split(None, 1)[1] for line in out.stdout.splitlines()}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
def test_it_runs_web_worker_and_beat_on_sqlite_and_stops_them_on_ctrl_c(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env |= {
        "DATAHUB_VAR_DIR": str(tmp_path),
        "PORT": str(port),
        "DATAHUB_ADMIN_USER": "",
        "DATAHUB_ADMIN_PASSWORD": "",
        "DATAHUB_ENCRYPTION_KEY": "",
    }
    with open(tmp_path / "run.log", "w+") as log:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "rundatahub"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            response = wait_for(f"http://127.0.0.1:{port}/login/")
            assert response.status_code == 200
            assert "Log in to the Data Hub" in response.text
            assert (tmp_path / "datahub.sqlite3").exists()
            assert (tmp_path / "encryption.key").exists()
            assert (tmp_path / "broker" / "messages").is_dir()
            children = children_of(process.pid)
            commands = " | ".join(children.values())
            assert "gunicorn" in commands and "worker" in commands and "beat" in commands
            log.seek(0)
            output = log.read()
            assert "username: admin" in output and "password: " in output
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(30)
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in children if alive(pid)]
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/login/", timeout=2)
