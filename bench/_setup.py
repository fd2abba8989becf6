"""What every benchmark does first (point Django at its own database and create it), and
how a benchmark reads its own process's memory."""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]


def configure(database_url: str) -> None:
    """Settings from the environment, as the Data Hub reads them; a throwaway key."""
    from cryptography.fernet import Fernet

    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "datahub.settings")
    os.environ.setdefault("DATAHUB_ENCRYPTION_KEY", Fernet.generate_key().decode())


def create_database(database_url: str) -> None:
    """Create the benchmark's database unless it exists."""
    import psycopg
    from psycopg import sql

    name = urlsplit(database_url).path.lstrip("/")
    admin_url = urlsplit(database_url)._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def peak_rss_kb() -> int:
    """This process's own resident high-water mark (VmHWM). Not ru_maxrss: Linux carries
    that over from the parent through fork and exec, so it would start at the size of
    the bench process."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def current_rss_kb() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() // 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(env: dict[str, str], port: int, *options: str) -> subprocess.Popen:
    """The Data Hub under gunicorn on `port` (as `make run` serves it), once it accepts."""
    command = [sys.executable, "-m", "gunicorn", "datahub.wsgi", "--bind", f"127.0.0.1:{port}"]
    server = subprocess.Popen([*command, *options, "--log-level", "warning"], cwd=ROOT, env=env)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return server
        except OSError:
            time.sleep(0.1)
    server.terminate()
    raise SystemExit("The server did not start.")
