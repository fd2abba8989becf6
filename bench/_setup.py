"""What every benchmark does first (point Django at its own database and create it), and
how a benchmark reads its own process's memory."""

from __future__ import annotations

import os
import resource
from urllib.parse import urlsplit


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
