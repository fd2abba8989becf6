"""Benchmark: how fast and how lean is the collector on a year of hourly usage?

Measures the collector end to end (HTTP to the emulator, JSON, row building, the page
writes and rollups, the run's bookkeeping) on a year of 1h completions buckets grouped by project,
model and user: rows/s = rows written / wall seconds, requests and pages, and the peak
memory (VmHWM) of the worker process, once for a month and three times for a year (the
best rows/s of the three counts, as for COPY; the largest peak memory).

Compared against, in the same run and on the same rows and table:
- Postgres COPY (binary, psycopg `copy.write_row`, one transaction, best of 3): the
  physical limit;
- one ORM `create()` per row in autocommit (the naive collector), timed on a sample of
  the rows and extrapolated.

Targets: the collector reaches at least half of COPY's rows/s, and its peak memory for
a year stays within 1.2x of that for a month. A miss is reported, not raised.

The emulator runs as its own process (`manage.py openai_emulator`), restarted for each
collection; each collection runs in a fresh worker process (this script with `--worker`).
Before a collection the emulator is warmed: it makes each page once for a request of this
script and keeps it, then answers the collector from memory, as OpenAI answers from
storage, instead of computing a year of synthetic data on the same two cores. The year
is also collected once against an emulator that is not warmed, and printed for context.

    .venv/bin/python bench/collect.py [--quick] [--profile] [--backfill] [--database-url URL]

--backfill measures instead how close a backfill comes to the fewest requests it can
make: the year of 1h buckets (grouped as above) against an emulator answering each
request 300 ms late, by wall time against the floor of requests x latency / 2 (the
engine's two fetch threads), then the same under the default rate limit (120 requests
a minute, burst 5) against requests / rate; and the worker's peak memory for a month
and a year of 1m buckets without grouping (one row per minute, a page of 1440 a day),
from an emulator that computes each page as it answers (only memory counts there).

--quick collects a week and a month instead of a month and a year (with --backfill: the
1h backfill over a month, 1m buckets over a week and a month). The database
(default postgres://postgres@127.0.0.1:5432/datahub_bench) is created and migrated if
needed, and its data tables are emptied: its name must contain "bench".
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import json
import os
import pstats
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._setup import (  # noqa: E402
    configure,
    create_database,
    current_rss_kb,
    free_port,
    peak_rss_kb,
)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/datahub_bench"
SEED = 42
NOW = "2026-11-01T00:00:00Z"
END = "2026-11-01"
GROUP_BY = ["project_id", "model", "user_id"]
STREAM = "completions"
WIDTH = "1h"
COPY_TARGET = 0.5  # collector rows/s over COPY rows/s, at least
MEMORY_TARGET = 1.2  # peak memory of the long period over the short one, at most
WORKER_TIMEOUT = 150  # seconds per collection (a year takes about 35 s)
COPY_TRIES = 3  # the best of these is the physical limit
COLLECT_TRIES = 3  # the best of these is the collector's rows/s (the machine's noise is ±10%)
NAIVE_SECONDS = 30  # the naive sample stops after this long, whatever its size

PERIODS = {  # (name, start) of the short and the long collection
    "full": (("month", "2026-10-01"), ("year", "2025-11-01")),
    "quick": (("week", "2026-10-25"), ("month", "2026-10-01")),
}

# --backfill: wall time against the fewest requests, and the memory of 1m buckets.
LATENCY_MS = 300.0  # the emulator's answer time for the wall-time figures
FETCH_THREADS = 2  # the engine fetches this many pages side by side
DEFAULT_PER_MINUTE = 120  # a connector's REQUESTS PER MINUTE unless its admin changes it
MINUTE_TIMEOUT = 1200  # seconds for a year of 1m buckets
BACKFILL_PERIODS = {  # the 1h backfill, then the short and long 1m collections
    "full": (("year", "2025-11-01"), (("month", "2026-10-01"), ("year", "2025-11-01"))),
    "quick": (("month", "2026-10-01"), (("week", "2026-10-25"), ("month", "2026-10-01"))),
}


@dataclass(frozen=True)
class Spec:
    """What a collection reads and how the emulator answers it."""

    start: str
    width: str = WIDTH
    group_by: tuple[str, ...] = tuple(GROUP_BY)
    latency_ms: float = 0.0  # the emulator's, set after the warm-up
    per_minute: int = 0  # the connector's REQUESTS PER MINUTE (0: no rate limit)
    warm: bool = True
    timeout: int = WORKER_TIMEOUT


@dataclass
class Collection:
    name: str
    spec: Spec
    task_id: int
    result: dict[str, Any]

    @property
    def start(self) -> str:
        return self.spec.start

    @property
    def ok(self) -> bool:
        return self.result.get("status") == "succeeded"

    @property
    def rate(self) -> float:
        return self.result["rows"] / self.result["seconds"] if self.ok else 0.0


# --- setup --------------------------------------------------------------------------


def _setup_django() -> None:
    import django

    django.setup()


def _migrate_and_empty() -> None:
    from django.core.management import call_command
    from django.db import connection

    from connectors.models import Connector

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:  # tasks, runs and every data table reference it
        cursor.execute(f"TRUNCATE {connection.ops.quote_name(Connector._meta.db_table)} CASCADE")


def _usage_model():
    from connectors.models import USAGE_TABLES

    return USAGE_TABLES[STREAM]


def _truncate_usage() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {connection.ops.quote_name(_usage_model()._meta.db_table)}")


def _epoch(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp())


# --- the emulator -------------------------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def _emulator(cpu: dict[str, float], spec: Spec) -> Iterator[str]:
    """`manage.py openai_emulator` in its own process, warmed with the collection's pages
    if the spec says so, then answering `spec.latency_ms` late; yields its base URL and
    records the CPU time it used (after the warm-up, if any) in `cpu["emulator"]`."""
    port = free_port()
    command = [sys.executable, "manage.py", "openai_emulator", "--port", str(port)]
    command += ["--seed", str(SEED), "--now", NOW]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    process = subprocess.Popen(command, cwd=ROOT, **quiet)
    try:
        _wait_until_up(port, process)
        if spec.warm:
            _warm(f"http://127.0.0.1:{port}/v1", spec)
        if spec.latency_ms:
            _set_latency(port, spec.latency_ms)
        started = _cpu_seconds(process.pid)
        yield f"http://127.0.0.1:{port}/v1"
        cpu["emulator"] = _cpu_seconds(process.pid) - started
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _set_latency(port: int, latency_ms: float) -> None:
    import httpx

    faults = {"latency_ms": latency_ms}
    httpx.post(f"http://127.0.0.1:{port}/_emulator/faults", json=faults).raise_for_status()


def _warm(base_url: str, spec: Spec) -> None:
    """Have the emulator make every page of the collection once, by requests of our own.
    It keeps final buckets as encoded JSON, so it then answers the collector from memory,
    as OpenAI answers from storage, instead of computing a year of data on the two cores
    the collector runs on. The answers are not parsed here beyond their cursor: this
    process forks the worker, whose peak memory is measured."""
    import httpx

    from connectors.openai.emulator import DEMO_ADMIN_KEY
    from connectors.openai.streams import USAGE_PAGE_LIMITS

    params: dict[str, Any] = {
        "start_time": _epoch(spec.start), "end_time": _epoch(END), "bucket_width": spec.width,
        "limit": USAGE_PAGE_LIMITS[spec.width][1],
    }  # fmt: skip
    if spec.group_by:
        params["group_by"] = list(spec.group_by)
    headers = {"Authorization": f"Bearer {DEMO_ADMIN_KEY}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=60) as client:
        while True:
            answer = client.get(f"/organization/usage/{STREAM}", params=params)
            answer.raise_for_status()
            cursor = _next_page(answer.content)
            if cursor is None:
                return
            params["page"] = cursor


def _next_page(body: bytes) -> str | None:
    """The page's next_page cursor (it comes last in the answer), or None."""
    tail = json.loads(b'{"' + body[body.rindex(b'"has_more"') + 1 :])
    return tail["next_page"] if tail["has_more"] else None


def _wait_until_up(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"The emulator did not start: try `{' '.join(process.args)}` by hand.")


# --- the collector, in a worker process ---------------------------------------------


def _make_connector():
    from django.utils import timezone

    from connectors.models import Connector
    from connectors.openai.emulator import DEMO_ADMIN_KEY

    connector = Connector(kind="openai", name="Benchmark", base_url="http://127.0.0.1/v1")
    connector.requests_per_minute = 0  # no rate limit
    connector.directory_refreshed_at = timezone.now()  # skip the directory refresh
    connector.set_admin_key(DEMO_ADMIN_KEY)
    connector.save()
    return connector


def _make_run(connector, spec: Spec):
    from connectors.models import Task, TaskRun

    parameters = {
        "type": STREAM,
        f"{STREAM}-StartTime": spec.start,
        f"{STREAM}-EndTime": END,
        f"{STREAM}-BucketWidth": spec.width,
        f"{STREAM}-GroupBy": list(spec.group_by),
    }
    task = Task.objects.create(connector=connector, query_type=STREAM, parameters=parameters)
    return TaskRun.objects.create(task=task, trigger="manual")


def _collect(connector, name: str, spec: Spec, profile: bool) -> Collection:
    """One collection into an empty table, by a fresh worker against a fresh emulator
    (warmed with the collection's pages unless the spec says not)."""
    _truncate_usage()
    run = _make_run(connector, spec)
    cpu: dict[str, float] = {}
    with _emulator(cpu, spec) as base_url:
        connector.base_url, connector.requests_per_minute = base_url, spec.per_minute
        connector.save(update_fields=["base_url", "requests_per_minute"])
        command = [sys.executable, __file__, "--worker", str(run.pk)]
        command += ["--profile"] if profile else []
        # The worker keeps its rate limit in its own process (the same GCRA as on Redis):
        # a shared Redis keys it by connector id, which another database's may share.
        env = {k: v for k, v in os.environ.items() if k != "CELERY_BROKER_URL"}
        try:
            done = subprocess.run(
                command, stdout=subprocess.PIPE, text=True, timeout=spec.timeout, check=False,
                env=env,
            )  # fmt: skip
            lines = done.stdout.strip().splitlines()
            result = json.loads(lines[-1]) if lines else {"status": "no output", "error": ""}
        except subprocess.TimeoutExpired:
            result = {"status": "timed out", "error": f"after {spec.timeout} s"}
    result["cpu_emulator"] = cpu.get("emulator", 0.0)
    return Collection(name, spec, run.task_id, result)


def _timed(timers: dict[str, float], name: str, function: Callable) -> Callable:
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        began = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            timers[name] = timers.get(name, 0.0) + time.perf_counter() - began

    return wrapper


def _instrument(timers: dict[str, float]) -> None:
    """Time the collector's stages from outside: requests (and within them JSON parsing)
    and row building on the fetch threads; page writes and rollups on the run's thread."""
    from connectors.collection import stream_pages as pages
    from connectors.openai import client

    client.AdminClient.get = _timed(timers, "request", client.AdminClient.get)
    client._parse = _timed(timers, "json", client._parse)
    pages.usage_rows = _timed(timers, "rows", pages.usage_rows)
    pages.write_rows = _timed(timers, "upsert", pages.write_rows)
    pages.rollup.refresh_days = _timed(timers, "rollup", pages.rollup.refresh_days)


def _sample_rss(samples: list[int]) -> None:
    """Record the worker's resident memory (kB) after each page's write."""
    from connectors.collection import stream_pages as pages

    write_rows = pages.write_rows

    def sampled(*args, **kwargs):
        counts = write_rows(*args, **kwargs)
        samples.append(current_rss_kb())
        return counts

    pages.write_rows = sampled


def _worker(run_id: int, profile: bool) -> None:
    """Execute one run as a worker would; print its figures as JSON on the last line."""
    _setup_django()
    from django.db import connection

    from connectors.collection import engine as runs
    from connectors.collection.memory import share_malloc_arena
    from connectors.models import TaskRun

    share_malloc_arena()  # as the Celery worker does when it starts
    timers: dict[str, float] = {}
    samples: list[int] = []
    _instrument(timers)
    _sample_rss(samples)
    connection.ensure_connection()
    backend = connection.connection.info.backend_pid
    cpu_before = (_cpu_seconds(os.getpid()), _cpu_seconds(backend))
    before = peak_rss_kb()
    profiler = cProfile.Profile() if profile else None
    began = time.perf_counter()
    if profiler:
        profiler.runcall(runs.run_execute, run_id)
    else:
        runs.run_execute(run_id)
    seconds = time.perf_counter() - began
    cpu_worker, cpu_postgres = (_cpu_seconds(os.getpid()), _cpu_seconds(backend))
    peak = peak_rss_kb()
    if profiler:
        _print_profile(profiler)
    run = TaskRun.objects.get(pk=run_id)
    figures = {
        "status": run.status,
        "error": run.error,
        "rows": run.rows_inserted + run.rows_updated + run.rows_unchanged,
        "requests": run.requests_made,
        "pages": run.pages,
        "seconds": seconds,
        "rss_before_kb": before,
        "rss_peak_kb": peak,
        "rss_pages_kb": samples,
        "timers": timers,
        "cpu_worker": cpu_worker - cpu_before[0],
        "cpu_postgres": cpu_postgres - cpu_before[1],
    }
    print(json.dumps(figures))


def _print_profile(profiler: cProfile.Profile) -> None:
    out = sys.stderr
    print("\n--- worker profile: top 25 by own time ---", file=out)
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
    print("--- worker profile: top 25 by cumulative time ---", file=out)
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)


# --- the baselines ------------------------------------------------------------------


def _truth_rows(collection: Collection, connector_id: int) -> list[dict[str, Any]]:
    """The rows the collection should have written, built as the collector builds them
    from the emulator's ground truth (computed in process, no HTTP)."""
    from connectors.openai.collector import provisional_window
    from connectors.openai.emulator import Emulator
    from connectors.openai.persistence import usage_rows
    from connectors.openai.streams import STREAMS

    stream = STREAMS[STREAM]
    buckets = Emulator(seed=SEED, now=NOW).ground_truth(
        STREAM, start=_epoch(collection.start), end=_epoch(END), bucket_width=WIDTH,
        group_by=GROUP_BY,
    )  # fmt: skip
    provisional_after = _epoch(END) - int(provisional_window(stream, WIDTH).total_seconds())
    rows = usage_rows(stream, WIDTH, collection.task_id, connector_id, buckets, provisional_after)
    return [dict(zip(rows.columns, row, strict=True)) for row in rows.values]


def _check(rows: list[dict[str, Any]]) -> str:
    """Compare the table (just collected) with the ground truth: count and token sums."""
    from django.db.models import Count, Sum

    stored = _usage_model().objects.aggregate(
        n=Count("pk"), i=Sum("inputTokens"), o=Sum("outputTokens")
    )
    expected = {
        "n": len(rows),
        "i": sum(r["inputTokens"] or 0 for r in rows),
        "o": sum(r["outputTokens"] or 0 for r in rows),
    }
    if stored == expected:
        return f"the table matches the ground truth ({len(rows):,} rows, token sums equal)"
    return f"MISMATCH with the ground truth: table {stored}, truth {expected}"


def _stamped(rows: list[dict[str, Any]]) -> tuple[list[str], list[tuple]]:
    """Columns and value tuples for COPY, with the fetch stamps the collector sets."""
    from psycopg.types.json import Jsonb

    now = datetime.now(UTC)
    columns = [*rows[0], "firstFetchedAt", "lastFetchedAt", "lastChangedAt"]
    values = [
        tuple(Jsonb(v) if c == "extra" and v is not None else v for c, v in row.items())
        + (now, now, now)
        for row in rows
    ]
    return columns, values


def _column_types(conn, table: str, columns: list[str]) -> list[int]:
    """The type OIDs of the table's columns, for a binary COPY."""
    found = dict(
        conn.execute(
            "SELECT attname, atttypid::int FROM pg_attribute WHERE attrelid = %s::regclass",
            [f'"{table}"'],
        ).fetchall()
    )
    return [found[c] for c in columns]


def _copy_once(conn, table: str, columns: list[str], values: list[tuple]) -> float:
    from psycopg import sql

    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    types = _column_types(conn, table, columns)
    conn.commit()
    _truncate_usage()
    began = time.perf_counter()
    with conn.cursor() as cursor, cursor.copy(statement) as copy:
        copy.set_types(types)
        for value in values:
            copy.write_row(value)
    conn.commit()
    return time.perf_counter() - began


def _copy_rate(rows: list[dict[str, Any]], database_url: str) -> tuple[float, float]:
    """Load the rows into the emptied table with a binary COPY, best of COPY_TRIES; time
    the load (and its commit) only."""
    import psycopg

    columns, values = _stamped(rows)
    table = _usage_model()._meta.db_table
    with psycopg.connect(database_url) as conn:
        seconds = min(_copy_once(conn, table, columns, values) for _ in range(COPY_TRIES))
    return len(values) / seconds, seconds


def _naive_rate(rows: list[dict[str, Any]], sample: int) -> tuple[float, int, float]:
    """One ORM create() per row in autocommit, on the first rows, for at most
    NAIVE_SECONDS; returns rows/s, rows written and seconds."""
    model = _usage_model()
    attnames = {f.column: f.attname for f in model._meta.concrete_fields}
    now = datetime.now(UTC)
    stamps = {"first_fetched_at": now, "last_fetched_at": now, "last_changed_at": now}
    _truncate_usage()
    began = time.perf_counter()
    written = 0
    for row in rows[:sample]:
        model.objects.create(**{attnames[c]: v for c, v in row.items()}, **stamps)
        written += 1
        if time.perf_counter() - began > NAIVE_SECONDS:
            break
    seconds = time.perf_counter() - began
    return written / seconds, written, seconds


# --- the report ---------------------------------------------------------------------


def _mb(kb: float) -> str:
    return f"{kb / 1024:.1f} MB"


def _print_collection(collection: Collection) -> None:
    r = collection.result
    print(f"Collector, {collection.name} (from {collection.start} to {END}):")
    if not collection.ok:
        print(f"  FAILED: {r.get('status')}: {r.get('error')}")
        return
    print(
        f"  {r['rows']:,} rows in {r['seconds']:.2f} s = {collection.rate:,.0f} rows/s; "
        f"requests {r['requests']}, pages {r['pages']}"
    )
    t = r["timers"]
    wait = t.get("request", 0.0) - t.get("json", 0.0)
    written = t.get("upsert", 0.0) + t.get("rollup", 0.0)
    print(
        f"  fetching (on the fetch threads, added up): HTTP wait {wait:.2f} s, JSON "
        f"{t.get('json', 0.0):.2f} s, rows built {t.get('rows', 0.0):.2f} s"
    )
    print(
        f"  writing (in the run's thread): rows written (COPY data encoded and sent) "
        f"{t.get('upsert', 0.0):.2f} s, "
        f"daily rollups {t.get('rollup', 0.0):.2f} s, the rest (waiting for the next page, "
        f"commits, run bookkeeping) {r['seconds'] - written:.2f} s"
    )
    print(
        f"  CPU time: worker {r['cpu_worker']:.2f} s, its Postgres backend "
        f"{r['cpu_postgres']:.2f} s, emulator {r['cpu_emulator']:.2f} s "
        f"(together {r['cpu_worker'] + r['cpu_postgres'] + r['cpu_emulator']:.2f} s of CPU "
        f"in {r['seconds']:.2f} s on {os.cpu_count()} cores)"
    )
    growth = r["rss_peak_kb"] - r["rss_before_kb"]
    print(
        f"  worker peak memory {_mb(r['rss_peak_kb'])} "
        f"({_mb(r['rss_before_kb'])} before the run, +{_mb(growth)} during it)"
    )
    pages = r["rss_pages_kb"]
    if pages:
        marks = sorted({1, (len(pages) + 1) // 2, len(pages)})
        after = ", ".join(f"page {n}: {_mb(pages[n - 1])}" for n in marks)
        print(f"  resident memory after {after}")


def _verdict(met: bool) -> str:
    return "MET" if met else "MISSED"


def _print_targets(short: Collection, long: Collection, copy_rate: float) -> None:
    print("Targets:")
    ratio = long.rate / copy_rate if copy_rate else 0.0
    print(
        f"  collector >= {COPY_TARGET:.1f}x COPY rows/s ({long.name}): "
        f"{_verdict(ratio >= COPY_TARGET)} ({ratio:.2f}x)"
    )
    if not (short.ok and long.ok):
        print("  peak memory: not measured (a collection failed)")
        return
    memory = long.result["rss_peak_kb"] / short.result["rss_peak_kb"]
    print(
        f"  peak memory {long.name} / {short.name} <= {MEMORY_TARGET:.1f}x: "
        f"{_verdict(memory <= MEMORY_TARGET)} ({memory:.2f}x)"
    )


def _report(short, long, check, copy, naive, rows: int) -> None:
    copy_rate, copy_seconds = copy
    naive_rate, naive_rows, naive_seconds = naive
    print()
    _print_collection(short)
    _print_collection(long)
    print(f"  check: {check}")
    print(
        f"COPY (physical limit; binary, best of {COPY_TRIES}): {rows:,} rows in "
        f"{copy_seconds:.2f} s = {copy_rate:,.0f} rows/s"
    )
    print(
        f"Naive ORM (one create() per row): a sample of the first {naive_rows:,} rows in "
        f"{naive_seconds:.2f} s = {naive_rate:,.0f} rows/s, extrapolated: "
        f"{rows / naive_rate:,.0f} s for all {rows:,} rows"
    )
    if long.ok:
        print(
            f"Ratios ({long.name}): collector / COPY = {long.rate / copy_rate:.2f}, "
            f"collector / naive = {long.rate / naive_rate:.1f}"
        )
    _print_targets(short, long, copy_rate)


# --- backfills: wall time against the floor, memory of 1m buckets ---------------------


def _fewest_requests(spec: Spec) -> int:
    """The requests a collection makes at least: its buckets in pages of the largest size."""
    from connectors.openai.streams import STREAMS, request_count

    start, end = (datetime.fromtimestamp(_epoch(day), UTC) for day in (spec.start, END))
    return request_count(STREAMS[STREAM], spec.width, start, end)


def _backfill(connector, quick: bool, profile: bool) -> None:
    """A 1h backfill at LATENCY_MS, without and with the default rate limit, and 1m
    backfills of a short and a long period (not warmed: only memory counts there)."""
    (name, start), minutes = BACKFILL_PERIODS["quick" if quick else "full"]
    slow = Spec(start, latency_ms=LATENCY_MS)
    limited = Spec(start, latency_ms=LATENCY_MS, per_minute=DEFAULT_PER_MINUTE)
    timed = [
        _collect(connector, f"{name}, {LATENCY_MS:g} ms latency", slow, profile),
        _collect(
            connector, f"{name}, {LATENCY_MS:g} ms, {DEFAULT_PER_MINUTE}/min", limited, profile
        ),
    ]
    ungrouped = [
        Spec(first, width="1m", group_by=(), warm=False, timeout=MINUTE_TIMEOUT)
        for _, first in minutes
    ]
    memory = [
        _collect(connector, f"{period} of 1m buckets", spec, profile)
        for (period, _), spec in zip(minutes, ungrouped, strict=True)
    ]
    print()
    for collection in [*timed, *memory]:
        _print_collection(collection)
    _report_backfill(name, timed, memory)


def _report_backfill(period: str, timed: list[Collection], memory: list[Collection]) -> None:
    from connectors.collection.ratelimit import BURST

    slow, limited = timed
    requests = _fewest_requests(slow.spec)
    latency = LATENCY_MS / 1000
    rate = DEFAULT_PER_MINUTE / 60  # requests a second
    print(
        f"Backfill of a {period} of {WIDTH} {STREAM} buckets grouped by "
        f"{', '.join(GROUP_BY)}: {requests} requests at least."
    )
    print(
        f"  {LATENCY_MS:g} ms a request, no rate limit: "
        f"{_versus(slow, requests * latency / FETCH_THREADS)} "
        f"(floor: requests x latency / {FETCH_THREADS} fetch threads)"
    )
    print(
        f"  the default rate limit ({DEFAULT_PER_MINUTE}/min, burst {BURST}) and "
        f"{LATENCY_MS:g} ms: {_versus(limited, requests / rate)} (floor: requests / rate); "
        f"{_versus(limited, (requests - BURST) / rate + latency)} counting the burst "
        f"(the first {BURST} go at once, the last answers {LATENCY_MS:g} ms after it goes)"
    )
    _report_minutes(*memory)


def _report_minutes(short: Collection, long: Collection) -> None:
    if not (short.ok and long.ok):
        print("  1m peak memory: not measured (a collection failed)")
        return
    ratio = long.result["rss_peak_kb"] / short.result["rss_peak_kb"]
    print(
        f"  worker peak memory, 1m buckets without grouping: {short.name} "
        f"{_mb(short.result['rss_peak_kb'])} ({short.result['pages']} pages), {long.name} "
        f"{_mb(long.result['rss_peak_kb'])} ({long.result['pages']} pages): "
        f"{ratio:.2f}x, target <= {MEMORY_TARGET:.1f}x: {_verdict(ratio <= MEMORY_TARGET)}"
    )


def _versus(collection: Collection, floor: float) -> str:
    if not collection.ok:
        return f"FAILED ({collection.result.get('status')}: {collection.result.get('error')})"
    seconds = collection.result["seconds"]
    return f"{seconds:.1f} s vs floor {floor:.1f} s ({seconds / floor:.2f}x)"


# --- main ---------------------------------------------------------------------------


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a week and a month")
    parser.add_argument("--profile", action="store_true", help="cProfile the workers")
    parser.add_argument(
        "--backfill",
        action="store_true",
        help="instead: backfill wall time vs the fewest requests, and 1m peak memory",
    )
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    return parser.parse_args()


def _bench(args: argparse.Namespace) -> None:
    if "bench" not in urlsplit(args.database_url).path:
        raise SystemExit("The database name must contain 'bench': its tables are emptied.")
    create_database(args.database_url)
    configure(args.database_url)
    _setup_django()
    _migrate_and_empty()
    connector = _make_connector()
    if args.backfill:
        _backfill(connector, args.quick, args.profile)
        return
    (short_name, short_start), (long_name, long_start) = PERIODS["quick" if args.quick else "full"]
    short = _collect(connector, short_name, Spec(short_start), args.profile)
    cold_spec = Spec(long_start, warm=False)
    cold = _collect(connector, f"{long_name}, emulator not warmed", cold_spec, args.profile)
    # Best of COLLECT_TRIES, as COPY is; peak memory the largest of them.
    long_spec = Spec(long_start)
    tries = [_collect(connector, long_name, long_spec, args.profile) for _ in range(COLLECT_TRIES)]
    long = max(tries, key=lambda collection: collection.rate)
    if all(t.ok for t in tries):
        long.result["rss_peak_kb"] = max(t.result["rss_peak_kb"] for t in tries)
    print(f"The {long_name}'s tries: " + ", ".join(f"{t.rate:,.0f}" for t in tries) + " rows/s.")
    rows = _truth_rows(long, connector.pk)
    check = _check(rows) if long.ok else "not checked (the collection failed)"
    copy = _copy_rate(rows, args.database_url)
    naive = _naive_rate(rows, 5_000 if args.quick else 20_000)
    _report(short, long, check, copy, naive, len(rows))
    if cold.ok:
        print(
            f"Context: the {long_name} against an emulator that computes each page as it "
            f"answers: {cold.rate:,.0f} rows/s = {cold.rate / copy[0]:.2f}x COPY; its CPU: "
            f"worker {cold.result['cpu_worker']:.2f} s, Postgres "
            f"{cold.result['cpu_postgres']:.2f} s, emulator {cold.result['cpu_emulator']:.2f} s."
        )
    if args.profile:
        print("(Under --profile the collector is slower and larger than without it.)")


def main() -> None:
    args = _parse_args()
    if args.worker is not None:
        _worker(args.worker, args.profile)
    else:
        _bench(args)


if __name__ == "__main__":
    main()
