"""Benchmark: reading a large table to its end through the Data API, by cursor.

Seeds (or reuses) its own database, `datahub_bench_api`: the completions table of
`bench/views.py`'s seed (a year of 1h buckets grouped by project, model and user), one
million rows by default, with the directory's names. Serves the Data Hub with gunicorn
(one worker, one thread: one process to measure), makes a Data API key, and reads the
whole table with `page_size` 10,000 following each page's `next` link, once as JSON and
once as CSV. Prints rows/s, the server's time (its Server-Timing header) of the first
and the last page, the worker's resident memory after the first page and its peak
(VmHWM) at the end, and, for contrast, the last page asked by number (an OFFSET).

Compared against Postgres writing the same rows as CSV itself (`COPY (SELECT … ORDER BY
id) TO STDOUT CSV`, read with psycopg, best of 2): the physical limit of reading them.

Target: the last page's server time within 2x of the first page's, each the best of 5
asked in turn after the read (one page alone is noise on a busy machine); the medians of
the first and last 5 pages of the read are printed too. A miss is reported.

    .venv/bin/python bench/api.py [--rows N] [--page-size N] [--database-url URL]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import _setup  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/datahub_bench_api"
DEFAULT_ROWS = 1_000_000
CONNECTOR_NAME = "bench-api"
TARGET = 2.0  # the last pages' server time over the first pages'
REPEAT = 5  # times the first and the last page are asked again, in turn
EDGE = 5  # pages at each end whose median is compared: one page alone is noise on a busy box


def _django(database_url: str) -> None:
    _setup.configure(database_url)
    _setup.create_database(database_url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _prepare(rows: int, database_url: str):
    """The connector whose completions hold the seed, seeded unless it already does."""
    import psycopg
    from django.db import connection

    from bench import _views_data as data
    from connectors.models import USAGE_TABLES, Connector, Task

    connector = Connector.objects.filter(name=CONNECTOR_NAME).first()
    if connector is None:
        connector = Connector(kind="openai", name=CONNECTOR_NAME, base_url="http://x.test")
        connector.set_admin_key("sk-admin-bench")
        connector.save()
    task = connector.tasks.first() or Task.objects.create(
        connector=connector,
        name="Hourly completions",
        query_type="completions",
        parameters=data.TASK_PARAMETERS,
    )
    model = USAGE_TABLES["completions"]
    if connector.description == f"seed:{rows}" and model.objects.count() == rows:
        print(f"The table already holds the {rows:,}-row seed.")
        return connector
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    plan = data.Plan(rows, now)
    print(f"Seeding {rows:,} rows ({plan.start} → {plan.end}) …", flush=True)
    began = time.perf_counter()
    connection.close()
    with psycopg.connect(database_url) as conn:
        data.load(conn, model._meta.db_table, plan, (task.pk, connector.pk), began + 1800)
        conn.autocommit = True
        conn.execute(f'VACUUM ANALYZE "{model._meta.db_table}"')
    data.directory(connector, plan.end)
    connector.directory_refreshed_at = plan.end
    connector.description = f"seed:{rows}"
    connector.save()
    print(f"Seeded in {time.perf_counter() - began:.0f} s.")
    return connector


def _key() -> str:
    from connectors.dataapi import keys
    from connectors.models import DataApiKey

    DataApiKey.objects.filter(name="bench").delete()
    return keys.key_create("bench").secret


def _serve(database_url: str, port: int) -> subprocess.Popen:
    env = os.environ | {
        "DATABASE_URL": database_url,
        "DEBUG": "",
        "LOG_LEVEL": "WARNING",
        "DATA_API_REQUESTS_PER_MINUTE": "0",  # the bench reads as fast as it can
    }
    return _setup.serve(env, port, "--workers", "1", "--threads", "1", "--timeout", "300")


def _worker(master: int) -> int:
    for _ in range(50):
        path = Path(f"/proc/{master}/task/{master}/children")
        children = path.read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.1)
    raise SystemExit("gunicorn started no worker.")


def _memory_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def _server_ms(response) -> float:
    return float(response.headers["Server-Timing"].split("dur=")[1])


def _read(client, url: str, params: dict, worker: int) -> dict:
    """Every page, following `next` (JSON) or the Link header (CSV)."""
    began = time.perf_counter()
    response = client.get(url, params=params)
    response.raise_for_status()
    first_url = last_url = str(response.url)
    first_rss = _memory_kb(worker, "VmRSS")
    server, rows, size = [], 0, 0
    while True:
        server.append(_server_ms(response))
        size += len(response.content)
        if params.get("format") == "csv":
            rows += response.content.count(b"\n") - 1
            following = response.links.get("next", {}).get("url")
        else:
            body = response.json()
            rows += len(body["data"])
            following = body["next"]
        if not following:
            break
        last_url = following
        response = client.get(following)
        response.raise_for_status()
    seconds = time.perf_counter() - began
    first_best, last_best = _best_of(client, first_url, last_url)
    return {
        "rows": rows,
        "pages": len(server),
        "seconds": seconds,
        "bytes": size,
        "first_ms": server[0],
        "last_ms": server[-1],
        "median_ms": statistics.median(server),
        "head_ms": statistics.median(server[:EDGE]),
        "tail_ms": statistics.median(server[-EDGE:]),
        "server_s": sum(server) / 1000,
        "first_best_ms": first_best,
        "last_best_ms": last_best,
        "first_rss_kb": first_rss,
        "peak_kb": _memory_kb(worker, "VmHWM"),
    }


def _best_of(client, first_url: str, last_url: str, times: int = REPEAT) -> tuple[float, float]:
    """The fastest server time of the first and of the last page, asked again in turn:
    the least a busy machine adds to each."""
    first, last = [], []
    for _ in range(times):
        first.append(_server_ms(client.get(first_url)))
        last.append(_server_ms(client.get(last_url)))
    return min(first), min(last)


def _copy(database_url: str, connector_id: int) -> dict:
    """Postgres writing the same rows as CSV: best of 2."""
    import psycopg

    sql = (
        'COPY (SELECT * FROM completions WHERE "connectorId" = %s ORDER BY id)'
        " TO STDOUT (FORMAT csv)"
    )
    best = None
    with psycopg.connect(database_url) as conn, conn.cursor() as cursor:
        for _ in range(2):
            began, size = time.perf_counter(), 0
            with cursor.copy(sql, [connector_id]) as copy:
                for block in copy:
                    size += len(block)
            seconds = time.perf_counter() - began
            best = min(best or seconds, seconds)
    return {"seconds": best, "bytes": size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    parser.add_argument("--page-size", type=int, default=10_000)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    args = parser.parse_args()
    _django(args.database_url)
    connector = _prepare(args.rows, args.database_url)
    secret = _key()
    import httpx

    port = _setup.free_port()
    server = _serve(args.database_url, port)
    try:
        worker = _worker(server.pid)
        base = f"http://127.0.0.1:{port}/v1/resultDatabase/completions/paged"
        with httpx.Client(headers={"ApiKey": secret}, timeout=300) as client:
            client.get(base, params={"page_size": 10}).raise_for_status()  # warm up
            print(f"Server worker {worker}: {_memory_kb(worker, 'VmRSS') / 1024:.1f} MB warm.")
            size = {"page_size": args.page_size}
            results = {
                "json": _read(client, base, size, worker),
                "csv": _read(client, base, size | {"format": "csv"}, worker),
            }
            pages = results["json"]["pages"]
            offset = client.get(base, params=size | {"page": pages})
            offset_ms = _server_ms(offset)
    finally:
        server.terminate()
        server.wait(10)
    copied = _copy(args.database_url, connector.pk)
    _report(results, copied, offset_ms, args.rows)


def _report(results: dict, copied: dict, offset_ms: float, rows: int) -> None:
    copy_rate = rows / copied["seconds"]
    print(
        f"\nPostgres COPY … TO STDOUT CSV of the {rows:,} rows: {copied['seconds']:.2f} s, "
        f"{copy_rate:,.0f} rows/s, {copied['bytes'] / 1e6:.0f} MB"
    )
    for shape, r in results.items():
        rate = r["rows"] / r["seconds"]
        ratio = r["last_best_ms"] / r["first_best_ms"]
        verdict = "met" if ratio <= TARGET else "MISSED"
        print(
            f"{shape.upper()}: {r['rows']:,} rows in {r['pages']} pages, {r['seconds']:.1f} s, "
            f"{rate:,.0f} rows/s ({rate / copy_rate:.2f}x COPY), {r['bytes'] / 1e6:.0f} MB; "
            f"server time of the first page {r['first_best_ms']:.0f} ms, of the last "
            f"{r['last_best_ms']:.0f} ms (best of {REPEAT}): {ratio:.2f}x, target {TARGET:g}x "
            f"{verdict}; while reading: first {r['first_ms']:.0f} ms, last {r['last_ms']:.0f} "
            f"ms, median of the first {EDGE} {r['head_ms']:.0f} ms, of the last {EDGE} "
            f"{r['tail_ms']:.0f} ms, of all {r['median_ms']:.0f} ms; "
            f"server time in all {r['server_s']:.1f} s ({r['rows'] / r['server_s']:,.0f} rows/s); "
            f"worker memory after the first page {r['first_rss_kb'] / 1024:.1f} MB, "
            f"peak {r['peak_kb'] / 1024:.1f} MB"
        )
    print(f"The last page asked by number (OFFSET) instead: {offset_ms:.0f} ms server time.")


if __name__ == "__main__":
    main()
