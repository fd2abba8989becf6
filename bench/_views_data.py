"""Seed data for `bench/views.py`: a year of hourly completions buckets, loaded with COPY.

Each hour holds the same number of rows, each one a distinct (project, model, user)
combination out of 20 x 15 x 60, so the natural key never collides. Every value is
derived from the row's position, so a seed of N rows is always the same N rows (only the
dates move: the year ends at the hour the seed ran). The table's secondary indexes and
foreign keys are dropped for the load and rebuilt from their own definitions after it,
in the one transaction that empties and fills the table: an interrupted seed leaves the
table as it was.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from connectors.openai.persistence import row_key

STREAM = "completions"
CONNECTOR_NAME = "bench-views"
HOURS = 365 * 24
PROJECTS, MODELS, USERS = 20, 15, 60
COMBOS = PROJECTS * MODELS * USERS
STRIDE, HOUR_SHIFT = 7919, 104729  # primes: coprime with COMBOS, so an hour never repeats
CHUNK_ROWS = 50_000  # rows per COPY write
PROVISIONAL_HOURS = 24
MODEL_NAMES = (
    "gpt-4o-2024-08-06",
    "gpt-4o-mini-2024-07-18",
    "gpt-4.1-2025-04-14",
    "gpt-4.1-mini-2025-04-14",
    "gpt-4.1-nano-2025-04-14",
    "o3-2025-04-16",
    "o3-mini-2025-01-31",
    "o4-mini-2025-04-16",
    "gpt-5-2025-08-07",
    "gpt-5-mini-2025-08-07",
    "gpt-5-nano-2025-08-07",
    "gpt-3.5-turbo-0125",
    "gpt-4-turbo-2024-04-09",
    "gpt-4o-audio-preview",
    "text-davinci-003",
)
TIERS = ("default", "default", "default", "flex", "priority")
METRICS = (
    "inputTokens",
    "outputTokens",
    "inputCachedTokens",
    "inputAudioTokens",
    "outputAudioTokens",
    "numModelRequests",
)
UNSET_METRICS = (  # newer fields OpenAI leaves out (or empty) for these rows: NULL
    "inputCacheWriteTokens",
    "inputUncachedTokens",
    "inputTextTokens",
    "outputTextTokens",
    "inputCachedTextTokens",
    "inputCachedAudioTokens",
    "inputImageTokens",
    "inputCachedImageTokens",
    "outputImageTokens",
    "inputCacheWrite30mTokens",
    "inputCacheWrite12hTokens",
    "apiSource",  # a dimension the seed's task does not group by
)
HOUR_HEAD = ("taskId", "connectorId", "startTime", "endTime", "bucketWidth")
COMBO = ("rowKey", "projectId", "userId", "apiKeyId", "model", "batch", "serviceTier")
HOUR_TAIL = ("object", "firstFetchedAt", "lastFetchedAt", "lastChangedAt", "provisional", "extra")
COLUMNS = (*HOUR_HEAD, *COMBO, *HOUR_TAIL, *METRICS, *UNSET_METRICS)
WIDTH = "1h"
# What the seed's task asks for, so the planner sees rows of that grain: every dimension
# the rows carry, 1h buckets, no filters.
GROUP_BY = ["project_id", "user_id", "api_key_id", "model", "batch", "service_tier"]
TASK_PARAMETERS = {
    "type": STREAM,
    f"{STREAM}-BucketWidth": WIDTH,
    f"{STREAM}-GroupBy": GROUP_BY,
}


@dataclass(frozen=True)
class Plan:
    """Where N rows go: `per_hour` rows in each of `hours` hours ending at `end`."""

    rows: int
    end: datetime

    @property
    def per_hour(self) -> int:
        return min(COMBOS, -(-self.rows // HOURS))

    @property
    def hours(self) -> int:
        return -(-self.rows // self.per_hour)

    @property
    def start(self) -> datetime:
        return self.end - timedelta(hours=self.hours)


def project_id(p: int) -> str:
    return f"proj_bench{p:02d}"


def user_id(u: int) -> str:
    return f"user-bench{u:02d}"


def api_key_id(p: int, u: int) -> str:
    return f"key_bench{p:02d}k{u % 3}"


def model_name(m: int) -> str:
    return MODEL_NAMES[m]


def _combo_text(c: int) -> str:
    """rowKey … serviceTier of combination c, tab-separated, as persistence derives them."""
    p, m, u = c % PROJECTS, (c // PROJECTS) % MODELS, c // (PROJECTS * MODELS)
    batch = c % 11 == 0
    dims = [project_id(p), user_id(u), api_key_id(p, u), model_name(m), batch, TIERS[u % 5]]
    names = ("project_id", "user_id", "api_key_id", "model", "batch", "service_tier")
    key = row_key(dict(zip(names, dims, strict=True)))
    return "\t".join([str(key), *dims[:4], "t" if batch else "f", dims[5]])


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S+00")


def _hour_texts(plan: Plan, hour: int, task_id: int, connector_id: int) -> tuple[str, str]:
    start = plan.start + timedelta(hours=hour)
    end = start + timedelta(hours=1)
    fetched = _stamp(end + timedelta(minutes=7))
    provisional = "t" if hour >= plan.hours - PROVISIONAL_HOURS else "f"
    head = f"{task_id}\t{connector_id}\t{_stamp(start)}\t{_stamp(end)}\t{WIDTH}\t"
    tail = (
        f"\torganization.usage.completions.result\t{fetched}\t{fetched}\t{fetched}"
        f"\t{provisional}\t\\N\t"
    )
    return head, tail


def lines(plan: Plan, task_id: int, connector_id: int) -> Iterator[str]:
    """The seed as COPY text, CHUNK_ROWS lines at a time."""
    combos = [_combo_text(c) for c in range(COMBOS)]
    unset = "\t\\N" * len(UNSET_METRICS) + "\n"
    chunk: list[str] = []
    for i in range(plan.rows):
        hour, slot = divmod(i, plan.per_hour)
        if slot == 0:
            head, tail = _hour_texts(plan, hour, task_id, connector_id)
        x = (i * 2654435761 ^ i >> 5) & 0xFFFFFFFF
        tokens = 200 + x % 40_000
        chunk.append(
            f"{head}{combos[(hour * HOUR_SHIFT + slot * STRIDE) % COMBOS]}{tail}"
            f"{tokens}\t{20 + (x >> 12) % 4_000}\t{tokens // (2 + x % 5)}\t0\t0"
            f"\t{1 + (x >> 20) % 60}{unset}"
        )
        if len(chunk) == CHUNK_ROWS:
            yield "".join(chunk)
            chunk = []
    if chunk:
        yield "".join(chunk)


# --- loading -------------------------------------------------------------------------


def _rebuild_statements(cursor, table: str) -> list[str]:
    """The DDL that recreates the table's secondary indexes and foreign keys."""
    cursor.execute(
        "SELECT format('ALTER TABLE %%I ADD CONSTRAINT %%I %%s', %s::text, conname,"
        " pg_get_constraintdef(oid)), conname, contype FROM pg_constraint"
        " WHERE conrelid = %s::regclass AND contype IN ('u', 'f') ORDER BY contype DESC",
        [table, f'"{table}"'],
    )
    constraints = cursor.fetchall()
    cursor.execute(
        "SELECT indexdef FROM pg_indexes i WHERE tablename = %s AND NOT EXISTS"
        " (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
        [table],
    )
    indexes = [row[0] for row in cursor.fetchall()]
    return [*(c[0] for c in constraints if c[2] == "u"), *indexes] + [
        c[0] for c in constraints if c[2] == "f"
    ]


def _drop_secondary(cursor, table: str) -> None:
    cursor.execute(
        "SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype IN ('u', 'f')",
        [f'"{table}"'],
    )
    for (name,) in cursor.fetchall():
        cursor.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
    cursor.execute(
        "SELECT indexname FROM pg_indexes i WHERE tablename = %s AND NOT EXISTS"
        " (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
        [table],
    )
    for (name,) in cursor.fetchall():
        cursor.execute(f'DROP INDEX "{name}"')


def load(conn, table: str, plan: Plan, ids: tuple[int, int], deadline: float) -> None:
    """Empty the table and COPY the plan's rows into it, in one transaction."""
    columns = ", ".join(f'"{c}"' for c in COLUMNS)
    with conn.transaction(), conn.cursor() as cursor:
        cursor.execute("SET LOCAL maintenance_work_mem = '1GB'")
        rebuild = _rebuild_statements(cursor, table)
        cursor.execute(f'TRUNCATE "{table}" RESTART IDENTITY')
        _drop_secondary(cursor, table)
        _copy(cursor, table, columns, plan, ids, deadline)
        for statement in rebuild:
            began = time.perf_counter()
            cursor.execute(statement)
            print(f"  {time.perf_counter() - began:6.1f} s  {statement[:90]}", flush=True)


def _copy(cursor, table: str, columns: str, plan: Plan, ids, deadline: float) -> None:
    began, done = time.perf_counter(), 0
    with cursor.copy(f'COPY "{table}" ({columns}) FROM STDIN (FREEZE)') as copy:
        for text in lines(plan, *ids):
            copy.write(text)
            done += text.count("\n")
            if done % 1_000_000 < CHUNK_ROWS:
                rate = done / (time.perf_counter() - began)
                print(f"  {done:>11,} rows  {rate:,.0f} rows/s", flush=True)
            if time.perf_counter() > deadline:
                raise TimeoutError("The seed took too long; it was rolled back.")


def cover(task, fetched_at: datetime) -> int:
    """The Coverage the task's rows imply, as the collector writes it with each page: per
    stream and bucket width, one span from its first bucket's start to its last bucket's
    end (the seed's hours are contiguous). Written unless the task has some already;
    returns the spans written."""
    from connectors import coverage
    from connectors.models import USAGE_TABLES, Coverage
    from connectors.openai.streams import STREAMS

    if Coverage.objects.filter(task=task).exists():
        return 0
    written = 0
    for stream, model in USAGE_TABLES.items():
        for width in STREAMS[stream].bucket_widths:  # each end read on the natural key
            rows = model.objects.filter(task=task, bucket_width=width)
            first = rows.order_by("start_time").values_list("start_time", flat=True).first()
            if first is None:
                continue
            last = rows.order_by("-start_time").values_list("end_time", flat=True).first()
            coverage.cover(task.pk, stream, width, first, last, fetched_at)
            written += 1
    return written


def directory(connector, now: datetime) -> None:
    """Names for the seed's projects, users and API keys (a few removed or archived)."""
    from connectors.models import ApiKeyEntry, ProjectEntry, UserEntry

    stamps = {"connector": connector, "first_fetched_at": now, "last_fetched_at": now}
    for model in (ProjectEntry, UserEntry, ApiKeyEntry):
        model.objects.filter(connector=connector).delete()
    ProjectEntry.objects.bulk_create(
        ProjectEntry(
            openai_id=project_id(p),
            object="organization.project",
            name=f"Project {p:02d}",
            status="archived" if p == PROJECTS - 1 else "active",
            archived_at=now if p == PROJECTS - 1 else None,
            **stamps,
        )
        for p in range(PROJECTS)
    )
    UserEntry.objects.bulk_create(
        UserEntry(
            openai_id=user_id(u),
            object="organization.user",
            name=f"User {u:02d}",
            email=f"user{u:02d}@example.com",
            role="reader",
            removed_at=now if u % 17 == 16 else None,
            **stamps,
        )
        for u in range(USERS)
    )
    ApiKeyEntry.objects.bulk_create(
        ApiKeyEntry(
            openai_id=api_key_id(p, k),
            project_id=project_id(p),
            object="organization.project.api_key",
            name=f"Key {p:02d}/{k}",
            redacted_value=f"sk-...{p:02d}{k}",
            **stamps,
        )
        for p in range(PROJECTS)
        for k in range(3)
    )
