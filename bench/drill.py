"""Drill: one long run survives a killed worker, a Redis restart and a stalled API.

Starts its own pieces: a Redis on a spare port (never the shared one), the emulator
(`manage.py openai_emulator`) and real Celery workers (`--pool solo`) on a database of
its own, and plays the beat tick itself (`queue.reclaim_stale()` and
`queue.resend_queued()` every TICK_SECONDS, as `tasks.schedule_tick` does). It queues one
run of a year of 1h completions buckets grouped by project and model, under the
connector's request rate limit (shared through that Redis), and while it runs:

1. SIGKILLs the worker and starts a new one (the run is taken over from its checkpoint
   once its heartbeat is RUN_STALE_AFTER_SECONDS old);
2. kills Redis and starts it again --redis-down-seconds later (the broker and the rate
   limit go away together; everything in Redis is lost);
3. stalls the API: every answer STALL_LATENCY_MS late for STALL_SECONDS;
4. answers every request 429 (Retry-After RETRY_AFTER s) for BURST_SECONDS.

Each disruption waits for the run to commit a page after the previous one recovered.
When the run ends, its table is compared with the emulator's ground truth (computed here
with the emulator's seed and clock): rows expected and stored, lost (expected keys
missing), duplicated (rows beyond one per natural key, and buckets whose sums differ),
unexpected and mismatched rows, the run's status and attempts, and how long each
disruption took to recover: from its end to the run's next committed page.

    .venv/bin/python bench/drill.py [--database-url URL] [--redis-port 6395]
        [--redis-down-seconds 5] [--latency-ms 150] [--requests-per-minute 40] [--start 2025-11-01]

The database (default postgres://postgres@127.0.0.1:5432/datahub_drill) is created and
migrated if needed and its connectors are deleted: its name must contain "drill".
Exits 1 when a row is lost, duplicated, unexpected or wrong, the run does not succeed,
or a disruption does not recover.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._setup import configure, create_database, free_port  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/datahub_drill"
SEED = 42
NOW = "2026-11-01T00:00:00Z"
END = "2026-11-01"
STREAM = "completions"
WIDTH = "1h"
GROUP_BY = ["project_id", "model"]
TICK_SECONDS = 2.0  # the beat tick's period here (the real beat ticks every 30 s)
STALE_SECONDS = 5  # RUN_STALE_AFTER_SECONDS of the workers and of the tick
STALL_LATENCY_MS = 8000  # longer than RUN_STALE_AFTER_SECONDS: the heartbeat must hold
STALL_SECONDS = 15.0
RETRY_AFTER = 2
BURST_SECONDS = 8.0
FIRST_PAGES = 8  # the first disruption once the run has committed this many pages
AFTER_START = "2026-10-01"  # a short run queued after the long one: do workers take new work?
RUN_TIMEOUT = 900  # seconds for the whole run
RECOVERY_TIMEOUT = 120  # seconds for a disruption to be followed by a committed page

# The workers' and this process's settings (read by Django at setup), unless the
# environment sets them.
RUN_ENV = {
    "RUN_STALE_AFTER_SECONDS": str(STALE_SECONDS),
    "RUN_HEARTBEAT_SECONDS": "1",
    "CELERY_QUEUE": "datahub-drill",
}


@dataclass
class Disruption:
    name: str
    began: float = 0.0  # monotonic seconds
    ended: float = 0.0  # the disruption itself is over (a worker is back, Redis is up, …)
    recovered: float | None = None  # the run's next committed page after `ended`
    notes: list[str] = field(default_factory=list)


# --- processes ----------------------------------------------------------------------


class Processes:
    """Every process the drill starts, each ended by its own id when the drill ends."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.started: list[subprocess.Popen] = []

    def start(self, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen:
        out = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 (kept for the process's life)
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        self.started.append(process)
        return process

    def kill(self, process: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
        if process.poll() is None:
            os.killpg(process.pid, sig)
        process.wait(20)

    def end_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.started:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill(process)


def _wait_for_port(port: int, process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{what} did not start: try `{' '.join(process.args)}` by hand.")


def _start_redis(procs: Processes, port: int) -> subprocess.Popen:
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1"]
    command += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
    process = procs.start("redis", command, dict(os.environ))
    _wait_for_port(port, process, "redis-server")
    return process


def _start_emulator(procs: Processes, port: int, latency_ms: float) -> subprocess.Popen:
    command = [sys.executable, "manage.py", "openai_emulator", "--port", str(port)]
    command += ["--seed", str(SEED), "--now", NOW, "--latency-ms", str(latency_ms)]
    process = procs.start("emulator", command, dict(os.environ))
    _wait_for_port(port, process, "The emulator")
    return process


def _start_worker(procs: Processes, number: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "celery", "-A", "datahub", "worker", "--pool", "solo"]
    command += ["--loglevel", "WARNING", "--without-heartbeat", "--without-gossip"]
    command += ["--without-mingle", "--hostname", f"drill{number}@%h"]
    return procs.start(f"worker{number}", command, dict(os.environ))


def _set_faults(port: int, config: dict[str, float]) -> None:
    """Replace the emulator's fault settings (`POST /_emulator/faults`)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/_emulator/faults",
        data=json.dumps(config).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 (our emulator)
        answer.read()


# --- the beat tick ------------------------------------------------------------------


class Tick(threading.Thread):
    """Plays the beat's tick: stale runs are sent again, queued unsent runs resent."""

    def __init__(self) -> None:
        super().__init__(name="drill-tick", daemon=True)
        self.stopping = threading.Event()
        self.sent: list[tuple[float, str, list[int]]] = []

    def run(self) -> None:
        from django.db import connection

        from connectors.collection import queue

        while not self.stopping.wait(TICK_SECONDS):
            try:
                self.note("reclaimed", queue.reclaim_stale())
                self.note("resent", queue.resend_queued())
            except Exception as error:  # noqa: BLE001 (the tick goes on, as the beat's would)
                print(f"  tick: {type(error).__name__}: {error}")
                connection.close()
        connection.close()

    def note(self, what: str, ids: list[int]) -> None:
        if ids:
            self.sent.append((time.monotonic(), what, ids))


# --- the run ------------------------------------------------------------------------


def _make_connector(emulator_port: int, per_minute: int):
    from django.utils import timezone

    from connectors.models import Connector
    from connectors.openai.emulator import DEMO_ADMIN_KEY

    connector = Connector(
        kind="openai", name="Drill", base_url=f"http://127.0.0.1:{emulator_port}/v1",
        requests_per_minute=per_minute, directory_refreshed_at=timezone.now(),
    )  # fmt: skip
    connector.set_admin_key(DEMO_ADMIN_KEY)
    connector.save()
    return connector


def _queue_run(connector, start: str, width: str, group_by: list[str]):
    """A completions task from `start` to END, and a run of it on the queue."""
    from connectors.collection import queue
    from connectors.models import Task

    parameters = {
        "type": STREAM, f"{STREAM}-StartTime": start, f"{STREAM}-EndTime": END,
        f"{STREAM}-BucketWidth": width, f"{STREAM}-GroupBy": group_by,
    }  # fmt: skip
    task = Task.objects.create(connector=connector, query_type=STREAM, parameters=parameters)
    run, refused = queue.run_enqueue(task, "manual")
    if run is None or refused:
        raise SystemExit(f"Could not queue the run: {refused}")
    return run


class Watch:
    """Reads the run's progress; remembers when each page was committed."""

    def __init__(self, run) -> None:
        self.run = run
        self.began = time.monotonic()
        self.ended: float | None = None
        self.pages: list[tuple[float, int]] = []

    def poll(self):
        self.run.refresh_from_db()
        if not self.pages or self.pages[-1][1] != self.run.pages:
            self.pages.append((time.monotonic(), self.run.pages))
        if self.ended is None and self.finished():
            self.ended = time.monotonic()
        return self.run

    def finished(self) -> bool:
        return self.run.status in ("succeeded", "partial", "failed", "cancelled")

    def until(self, condition, seconds: float) -> float | None:
        """Poll until `condition(run)`; when it held (monotonic), or None."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if condition(self.poll()):
                return time.monotonic()
            if self.finished():
                return None
            time.sleep(0.1)
        return None

    def next_page(self, after: float, seconds: float = RECOVERY_TIMEOUT) -> float | None:
        """When the run committed a page beyond those it had at `after` (monotonic)."""
        pages = self.pages_at(after)
        return self.until(lambda r: r.pages > pages, seconds)

    def pages_at(self, moment: float) -> int:
        """The pages committed by `moment`, as last read before it."""
        return max((n for t, n in self.pages if t <= moment), default=0)

    def at(self, moment: float | None) -> str:
        return "-" if moment is None else f"{moment - self.began:.1f} s"


class Drill:
    """The drill's pieces and the disruptions done to them, in turn."""

    def __init__(self, args: argparse.Namespace, procs: Processes) -> None:
        self.args, self.procs = args, procs
        self.base = {"latency_ms": args.latency_ms}
        self.redis = _start_redis(procs, args.redis_port)
        self.emulator_port = free_port()
        _start_emulator(procs, self.emulator_port, args.latency_ms)
        self.workers = 1
        self.worker = _start_worker(procs, self.workers)
        self.connector = _make_connector(self.emulator_port, args.requests_per_minute)
        self.watch = Watch(_queue_run(self.connector, args.start, WIDTH, GROUP_BY))
        self.after: Watch | None = None

    def disruptions(self) -> list:
        stall = f"API stalled: answers {STALL_LATENCY_MS} ms late for {STALL_SECONDS:g} s"
        burst = f"API answers 429 (Retry-After {RETRY_AFTER} s) for {BURST_SECONDS:g} s"
        return [
            self.kill_worker,
            self.restart_redis,
            lambda: self.stall(stall, STALL_SECONDS, latency_ms=STALL_LATENCY_MS),
            lambda: self.stall(burst, BURST_SECONDS, rate_429=1.0, retry_after=RETRY_AFTER),
        ]

    def kill_worker(self) -> Disruption:
        d = Disruption("worker SIGKILLed, a new one started")
        attempts = self.watch.poll().attempts
        d.began = d.ended = time.monotonic()
        self.procs.kill(self.worker)
        self.workers += 1
        self.worker = _start_worker(self.procs, self.workers)
        claimed = self.watch.until(lambda r: r.attempts > attempts, RECOVERY_TIMEOUT)
        d.notes.append(f"taken over (attempt {self.watch.run.attempts}) after "
                       f"{_seconds(d.began, claimed)}")  # fmt: skip
        d.recovered = self.watch.next_page(claimed) if claimed else None
        return d

    def restart_redis(self) -> Disruption:
        down = self.args.redis_down_seconds
        d = Disruption(f"Redis killed, started again {down:g} s later")
        attempts = self.watch.poll().attempts
        d.began = time.monotonic()
        self.procs.kill(self.redis)
        self.watch.until(lambda r: False, down)
        self.redis = _start_redis(self.procs, self.args.redis_port)
        self.watch.poll()
        d.ended = time.monotonic()
        d.recovered = self.watch.next_page(d.ended)
        d.notes.append(f"attempts {attempts} -> {self.watch.run.attempts}")
        return d

    def stall(self, name: str, seconds: float, **faults: float) -> Disruption:
        d = Disruption(name)
        attempts = self.watch.poll().attempts
        d.began = time.monotonic()
        _set_faults(self.emulator_port, self.base | faults)
        self.watch.until(lambda r: False, seconds)
        _set_faults(self.emulator_port, self.base)
        self.watch.poll()
        d.ended = time.monotonic()
        d.recovered = self.watch.next_page(d.ended)
        d.notes.append(f"attempts {attempts} -> {self.watch.run.attempts}")
        return d

    def run(self) -> list[Disruption]:
        """Each disruption once the run has committed a page since the last recovered;
        then wait for the run's end."""
        watch, done = self.watch, []
        ready = watch.until(lambda r: r.pages >= FIRST_PAGES, RECOVERY_TIMEOUT)
        for disrupt in self.disruptions():
            if ready is None or watch.finished():
                break
            disruption = disrupt()
            done.append(disruption)
            print(f"  at {watch.at(disruption.began)}: {disruption.name}", flush=True)
            ready = disruption.recovered
        watch.until(lambda r: watch.finished(), RUN_TIMEOUT)
        self.after = Watch(_queue_run(self.connector, AFTER_START, "1d", []))
        self.after.until(lambda r: self.after.finished(), RECOVERY_TIMEOUT)
        return done


def _seconds(began: float, moment: float | None) -> str:
    return "never" if moment is None else f"{moment - began:.1f} s"


# --- the check ----------------------------------------------------------------------


def _plain(value):
    if isinstance(value, float):
        return Decimal(repr(value)).normalize()
    return value.normalize() if isinstance(value, Decimal) else value


def _truth(start: str) -> dict[tuple, dict]:
    """The emulator's answer for the task, keyed (bucket start, dimensions)."""
    from connectors.openai.emulator import Emulator
    from connectors.openai.streams import STREAMS

    stream = STREAMS[STREAM]
    buckets = Emulator(seed=SEED, now=NOW).ground_truth(
        STREAM, start=_epoch(start), end=_epoch(END), bucket_width=WIDTH, group_by=GROUP_BY
    )
    rows = {}
    for bucket in buckets:
        for result in bucket["results"]:
            dims = tuple(result.get(d.api) for d in stream.dimensions)
            rows[(bucket["start_time"], dims)] = {
                m.column: _plain(_dig(result, m.api)) for m in stream.metrics
            }
    return rows


def _dig(result: dict, path: str):
    for part in path.split("."):
        result = (result or {}).get(part)
    return result


def _stored(task_id: int) -> list[tuple[tuple, dict]]:
    from connectors.models import USAGE_TABLES
    from connectors.openai.streams import STREAMS

    stream = STREAMS[STREAM]
    found = []
    for row in USAGE_TABLES[STREAM].objects.filter(task_id=task_id).values().iterator():
        key = (int(row["start_time"].timestamp()), tuple(row[d.column] for d in stream.dimensions))
        found.append((key, {m.column: _plain(row[m.column]) for m in stream.metrics}))
    return found


def _duplicates_by_natural_key(task_id: int) -> int:
    from django.db import connection

    from connectors.models import USAGE_TABLES

    table = connection.ops.quote_name(USAGE_TABLES[STREAM]._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT count(*) - count(DISTINCT ("bucketWidth", "startTime", "rowKey")) '  # noqa: S608
            f'FROM {table} WHERE "taskId" = %s',
            [task_id],
        )
        return cursor.fetchone()[0]


def _bucket_sums(rows) -> dict[int, Counter]:
    sums: dict[int, Counter] = defaultdict(Counter)
    for (start, _), values in rows:
        sums[start].update({k: v for k, v in values.items() if v is not None})
    return sums


def _check(task_id: int, start: str) -> dict[str, int]:
    truth = _truth(start)
    stored = _stored(task_id)
    by_key = dict(stored)
    return {
        "expected": len(truth),
        "stored": len(stored),
        "lost": sum(1 for key in truth if key not in by_key),
        "duplicated": len(stored) - len(by_key),
        "duplicated by (taskId, bucketWidth, startTime, rowKey)": _duplicates_by_natural_key(
            task_id
        ),
        "unexpected": sum(1 for key in by_key if key not in truth),
        "mismatched values": sum(1 for k, v in by_key.items() if k in truth and truth[k] != v),
        "buckets whose sums differ": _sums_differ(truth, stored),
    }


def _sums_differ(truth: dict, stored: list) -> int:
    expected, found = _bucket_sums(truth.items()), _bucket_sums(stored)
    return sum(1 for s in expected.keys() | found.keys() if expected.get(s) != found.get(s))


def _epoch(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp())


# --- main ---------------------------------------------------------------------------


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--redis-port", type=int, default=6395)
    parser.add_argument(
        "--redis-down-seconds",
        type=float,
        default=5.0,
        help="over 60 (the rate limit's patience) puts the run back on the queue",
    )
    parser.add_argument("--latency-ms", type=float, default=150.0)
    parser.add_argument("--requests-per-minute", type=int, default=40)
    parser.add_argument("--start", default="2025-11-01", help="START TIME (END TIME is 2026-11-01)")
    return parser.parse_args()


def _setup(args: argparse.Namespace) -> None:
    if "drill" not in urlsplit(args.database_url).path:
        raise SystemExit("The database name must contain 'drill': its connectors are deleted.")
    if args.redis_port == 6379:
        raise SystemExit("Give the drill a Redis port of its own: it kills that Redis.")
    create_database(args.database_url)
    for name, value in RUN_ENV.items():  # the environment may set them otherwise
        os.environ.setdefault(name, value)
    os.environ["CELERY_BROKER_URL"] = f"redis://127.0.0.1:{args.redis_port}/0"
    configure(args.database_url)  # also the workers' environment: they inherit os.environ
    import django

    django.setup()
    from django.core.management import call_command

    from connectors.models import Connector

    call_command("migrate", verbosity=0)
    Connector.objects.all().delete()


def _report_run(watch: Watch, drill: Drill, disruptions: list[Disruption]) -> bool:
    run = watch.run
    print(f"\nThe run: {run.status} after {run.attempts} attempt(s) in {watch.at(watch.ended)}")
    print(f"  {run.pages} pages, {run.requests_made} requests; error: {run.error or '-'}")
    print("Disruptions (recovered: the run's next committed page after the disruption ended):")
    recovered = True
    for d in disruptions:
        during = watch.pages_at(d.ended) - watch.pages_at(d.began)
        print(
            f"  {d.name}: at {watch.at(d.began)}, lasted {d.ended - d.began:.1f} s "
            f"({during} pages committed meanwhile), recovered after "
            f"{_seconds(d.ended, d.recovered)}; {'; '.join(d.notes)}"
        )
        recovered = recovered and d.recovered is not None
    missing = len(drill.disruptions()) - len(disruptions)
    if missing:
        print(f"  {missing} disruption(s) not done: the run ended or did not recover first")
    return _report_after(drill.after) and recovered and not missing and run.status == "succeeded"


def _report_after(after: Watch | None) -> bool:
    """The short run queued once the long one ended: workers still take new work."""
    if after is None:
        return False
    took = "never" if after.ended is None else f"{after.ended - after.began:.1f} s"
    print(f"  then a short run queued on the restarted broker: {after.run.status} in {took}")
    return after.run.status == "succeeded"


def _report_check(check: dict[str, int]) -> bool:
    print("Against the emulator's ground truth:")
    for name, value in check.items():
        print(f"  {name}: {value:,}")
    return not any(value for name, value in check.items() if name not in ("expected", "stored"))


def main() -> None:
    args = _parse_args()
    _setup(args)
    logs = Path(tempfile.mkdtemp(prefix="datahub-drill-"))
    print(f"Drill: logs of the processes in {logs}", flush=True)
    procs = Processes(logs)
    tick = Tick()
    try:
        drill = Drill(args, procs)
        tick.start()
        disruptions = drill.run()
    finally:
        tick.stopping.set()
        procs.end_all()
    tick.join(10)
    for moment, what, ids in tick.sent:
        print(f"  the tick {what} run(s) {ids} at {drill.watch.at(moment)}")
    ok = _report_run(drill.watch, drill, disruptions)
    ok = _report_check(_check(drill.watch.run.task_id, args.start)) and ok
    print("PASSED: nothing lost or duplicated" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
