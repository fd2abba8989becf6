"""Serving over HTTP: the thread helper and the management command."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from connectors.openai.emulator import DEMO_ADMIN_KEY

ROOT = Path(__file__).resolve().parents[3]


def test_it_serves_over_http_in_a_thread(emulator_server):
    assert emulator_server.base_url.endswith("/v1")
    headers = {"Authorization": f"Bearer {DEMO_ADMIN_KEY}"}
    response = httpx.get(f"{emulator_server.base_url}/organization/projects", headers=headers)
    assert response.status_code == 200
    assert response.json()["data"] == [
        p for p in emulator_server.emulator.directory_truth()["projects"] if p["status"] == "active"
    ]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_it_serves_from_the_management_command():
    port = _free_port()
    command = [sys.executable, "manage.py", "openai_emulator", "--port", str(port), "--seed", "7",
               "--now", "2026-11-01T00:00:00Z", "--rate-429", "0"]  # fmt: skip
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "datahub.settings"}
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                clock = httpx.get(f"{url}/_emulator/clock").json()
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert clock == {"now": 1793491200}
        headers = {"Authorization": f"Bearer {DEMO_ADMIN_KEY}"}
        assert httpx.get(f"{url}/v1/organization/projects", headers=headers).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)
