"""Benchmark: how fast are the table view, its totals row and the charts on 10M rows?

Seeds the completions table with a year of 1h buckets (20 projects x 15 models x 60
users, 10 million rows by default, loaded with COPY; skipped when the table already holds
exactly that seed) for one task grouped by every dimension the rows carry, records the
Coverage those rows imply (as the collector does with each page: without it the planner
finds no task that collected anything; a seed from before coverage gets it added), fills
and ANALYZEs the rollups, collects a year of daily costs from the local emulator once (for
the costs page and the Overview of `bench/browser.py`; ~71,000 rows, not measured here),
then checks that the pages show figures (a totals row, no
"cannot be answered") and measures, in this process, with Django's test Client and a
logged-in staff user:

- the table view (`connectors:table-detail`): the first page (last 30 days, newest
  first), page 10,000 (the keyset cursor of row 499,950 in that order), a page filtered
  by project and model, a page sorted by inputTokens, a free-text search, and the first
  page of all time; and the connector's Tables page (every table's row count, time range
  and last update);
- the totals row (`datatables.totals`: COUNT and SUMs) for the last 30 days and for all
  time, called directly;
- the chart selectors of `connectors.explore.charts` (`buckets`, `over_time`, `over_times`
  (the tokens and requests charts in one query, as a table page reads them), `top`, and
  `table_charts`, which makes all of a table's charts) for the last 30 days, project +
  model, and all time; the HTMX chart fragment (`connectors:table-charts`) for the same;
  `connectors.explore.overview`'s `overview` and `task_health` once. This section is skipped,
  and says so, while `connectors.explore.charts` does not import.

Each scenario runs 2 warm-ups, then 20 timed repetitions (fewer, but at least 5, when
20 would take over 20 s: the `n` column), each one call of the view and one run of its
bare SQL, in turn; p50 and p95 are wall time in this process
(server time: no network, no browser; the test Client keeps its DB connection). Each is
compared against its bare SQL: every query it runs (captured once with
CaptureQueriesContext: for a page, the session, user and connector lookups, the page
query, the totals aggregate, the free-text lookup, the directory names and the task
list; for a chart, every query of it), each run directly on a cursor. `added` is the
time a view spends beyond its SQL (p50 minus SQL p50): Django, the ORM, the template.

The floor is a logged-in request for the connector list: session, user, one small
query and the base template, no usage SQL. Every page adds at least the floor's added
time to its own SQL, so an HTTP view whose SQL takes under twice that cannot come within
1.5x of it; such misses are marked "under the floor".

Targets: p95 under 200 ms for every table page, under 500 ms for every chart; each view
within 1.5x of its bare SQL (p50 over p50). A miss is reported, not raised.

    .venv/bin/python bench/views.py [--rows N] [--repeat N] [--explain] [--seed-only]
                                    [--database-url URL]

--rows 1000000 seeds (and measures) a tenth of the data; --explain prints EXPLAIN
(ANALYZE, BUFFERS) of the queries behind each missed target.

The database (default postgres://postgres@127.0.0.1:5432/datahub_bench_views) is created
and migrated if needed; its name must contain "bench" (its completions table is
emptied when it does not hold the seed asked for).
"""

from __future__ import annotations

import argparse
import inspect
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._setup import configure, create_database  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/datahub_bench_views"
DEFAULT_ROWS = 10_000_000
WARMUPS, REPEAT = 2, 20
PAGE_TARGET_MS, CHART_TARGET_MS, RATIO_TARGET = 200.0, 500.0, 1.5
SEED_TIMEOUT = 30 * 60  # seconds; a longer seed is rolled back
DEEP_PAGE = 10_000
SCENARIO_BUDGET, MIN_REPEAT = 20.0, 5  # seconds of timed runs per scenario, at least 5 runs
STAFF = "bench-views-staff"


# --- setup --------------------------------------------------------------------------


def _setup_django() -> None:
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def _usage_model():
    from connectors.models import USAGE_TABLES

    return USAGE_TABLES["completions"]


# --- seed ---------------------------------------------------------------------------


def _connector_and_task():
    from bench import _views_data as data
    from connectors.models import Connector, Task

    connector = Connector.objects.filter(name=data.CONNECTOR_NAME).first()
    if connector is None:
        connector = Connector(kind="openai", name=data.CONNECTOR_NAME, base_url="http://x.test")
        connector.set_admin_key("sk-admin-bench")
        connector.save()
    task = connector.tasks.filter(query_type="completions").first()
    if task is None:
        task = Task.objects.create(
            connector=connector, query_type="completions", parameters=data.TASK_PARAMETERS
        )
    elif task.parameters != data.TASK_PARAMETERS:
        # A task of an older seed asked for nothing: the planner would read its rows as
        # ungrouped. Its rows are of this grain, so say so (an update, not a save through
        # the form, which would forget rows of a changed grain).
        Task.objects.filter(pk=task.pk).update(parameters=data.TASK_PARAMETERS)
        task.refresh_from_db()
    return connector, task


def _seeded(connector, rows: int) -> bool:
    model = _usage_model()
    return (
        connector.description.startswith(f"seed:{rows}:")
        and model.objects.count() == rows
        and model.objects.filter(connector=connector).count() == rows
    )


def _seed(connector, task, rows: int, database_url: str) -> None:
    import psycopg
    from django.db import connection

    from bench import _views_data as data

    seeded_at = datetime.now(UTC)
    plan = data.Plan(rows, seeded_at.replace(minute=0, second=0, microsecond=0))
    plan = data.Plan(rows, plan.end + timedelta(hours=1))  # the current hour is the last
    print(f"Seeding {rows:,} rows ({plan.per_hour} per hour, {plan.start} → {plan.end}) …")
    began = time.perf_counter()
    connection.close()
    table = _usage_model()._meta.db_table
    columns = {f.column for f in _usage_model()._meta.concrete_fields if not f.primary_key}
    assert columns == set(data.COLUMNS), f"the seed misses {columns ^ set(data.COLUMNS)}"
    with psycopg.connect(database_url) as conn:
        _forget_derived(conn, task)
        data.load(conn, table, plan, (task.pk, connector.pk), began + SEED_TIMEOUT)
        conn.autocommit = True
        conn.execute(f'VACUUM ANALYZE "{table}"')
    data.cover(task, seeded_at)
    data.directory(connector, plan.end)
    connector.directory_refreshed_at = plan.end
    connector.description = f"seed:{rows}:{plan.start.isoformat()}:{plan.end.isoformat()}"
    connector.save()
    print(f"Seeded in {time.perf_counter() - began:.0f} s.")


def _forget_derived(conn, task) -> None:
    """What an earlier seed left beside the rows: the rollups (only the seed's task
    writes them here) and the task's coverage, rewritten after the load. Emptied first,
    so an interrupted seed leaves none that would not match the rows."""
    from connectors.models import DAILY_BY_TABLES, DAILY_TABLES, Coverage

    tables = (DAILY_BY_TABLES["completions"], DAILY_TABLES["completions"])
    rollups = ", ".join(f'"{t._meta.db_table}"' for t in tables)
    with conn.transaction():
        conn.execute(f"TRUNCATE {rollups}")
        conn.execute(f'DELETE FROM "{Coverage._meta.db_table}" WHERE "task_id" = %s', [task.pk])


def _prepare(rows: int, database_url: str):
    from bench import _views_data as data

    connector, task = _connector_and_task()
    if _seeded(connector, rows):
        print(f"The table already holds the {rows:,}-row seed ({connector.description}).")
        # A seed from before coverage was recorded: the spans its rows imply, stamped
        # with the seed's time (its directory was refreshed then).
        seeded_at = min(connector.directory_refreshed_at or datetime.now(UTC), datetime.now(UTC))
        if written := data.cover(task, seeded_at):
            print(f"Recorded the seed's coverage ({written} span).")
    else:
        _seed(connector, task, rows, database_url)
        connector.refresh_from_db()
    _roll_up(task)
    _analyze()
    _collect_costs(connector)
    return connector


def _collect_costs(connector) -> None:
    """A year of daily costs by project and line item, collected once from the local
    emulator by the engine (coverage, rollups and all), so the costs table page and the
    Overview's spend and cost charts have figures too (`bench/browser.py` loads them).
    The completions measured here are not touched."""
    from connectors.collection import engine
    from connectors.models import Task, TaskRun
    from connectors.openai.emulator import DEFAULT_SEED, DEMO_ADMIN_KEY, Emulator, serve_in_thread

    if connector.tasks.filter(query_type="costs").exists():
        return
    print("Collecting a year of daily costs from the emulator …", flush=True)
    began = time.perf_counter()
    start = (datetime.now(UTC) - timedelta(days=365)).strftime("%Y-%m-%d")
    emulator = Emulator(seed=DEFAULT_SEED, now=int(time.time()) // 3600 * 3600)
    with serve_in_thread(emulator) as server:
        connector.base_url, connector.requests_per_minute = server.base_url, 0
        connector.set_admin_key(DEMO_ADMIN_KEY)
        connector.save()
        parameters = {"StartTime": start, "GroupBy": ["project_id", "line_item"]}
        task = Task.objects.create(
            connector=connector,
            query_type="costs",
            parameters={"type": "costs"} | {f"costs-{k}": v for k, v in parameters.items()},
        )
        run = TaskRun.objects.create(task=task, trigger="manual")
        engine.run_execute(run.pk)
        run.refresh_from_db()
    rows = run.rows_inserted
    print(f"  costs: {run.status}, {rows:,} rows in {time.perf_counter() - began:.0f} s")


def _analyze() -> None:
    """Fresh statistics for the rollups and the coverage, as autovacuum keeps them on a
    live database (this server may run without it: the seed's own ANALYZE covers only
    the rows). Without them Postgres guesses one row for a task's days in
    `{table}DailyBy` and reads every dimension's rows through the (taskId, bucketWidth,
    day) index: 10x slower."""
    from django.db import connection

    from connectors.models import DAILY_BY_TABLES, DAILY_TABLES, Coverage

    began = time.perf_counter()
    tables = (DAILY_TABLES["completions"], DAILY_BY_TABLES["completions"], Coverage)
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f'ANALYZE "{table._meta.db_table}"')
    print(f"Analyzed the rollups and coverage in {time.perf_counter() - began:.1f} s.")


def _roll_up(task) -> None:
    """Fill the daily rollup as collection does, a month at a time (once)."""
    from django.db import transaction

    from connectors.models import DAILY_TABLES
    from connectors.openai import rollup
    from connectors.openai.streams import STREAMS

    daily = DAILY_TABLES["completions"]
    if daily.objects.filter(task=task).exists():
        return
    model = _usage_model()
    first = model.objects.filter(task=task).order_by("start_time").first().start_time
    last = model.objects.filter(task=task).order_by("-start_time").first().end_time
    print("Filling the daily rollup …", flush=True)
    began = time.perf_counter()
    while first < last:
        stop = min(first + timedelta(days=30), last)
        with transaction.atomic():
            rollup.refresh_days(STREAMS["completions"], task.pk, "1h", first, stop)
        first = stop
    print(f"Rolled up in {time.perf_counter() - began:.0f} s: {daily.objects.count():,} rows.")


# --- measuring ----------------------------------------------------------------------


@dataclass
class Result:
    """One scenario: its timings, those of its bare SQL, and its target."""

    section: str  # "page", "totals" or "chart"
    name: str
    target_ms: float
    times: list[float] = field(default_factory=list)  # ms, one per repetition
    bare: list[float] = field(default_factory=list)  # ms, its queries run directly
    queries: list[str] = field(default_factory=list)  # the SQL of every query it runs
    note: str = ""

    @property
    def p50(self) -> float:
        return _percentile(self.times, 50)

    @property
    def p95(self) -> float:
        return _percentile(self.times, 95)

    @property
    def ratio(self) -> float:
        bare = _percentile(self.bare, 50)
        return self.p50 / bare if bare else float("nan")

    @property
    def fast(self) -> bool:
        return self.p95 < self.target_ms

    @property
    def lean(self) -> bool:
        return self.ratio <= RATIO_TARGET


def _percentile(values: list[float], pct: int) -> float:
    """Nearest rank: of 20 values, p50 is the 10th and p95 the 19th."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, -(-len(ordered) * pct // 100) - 1)]


def _repeat(*calls: Callable[[], Any], repeat: int) -> list[list[float]]:
    """Warm each call up, then time `repeat` rounds of them (fewer when they would
    overrun SCENARIO_BUDGET), the calls taking turns within each round: a slow spell of
    this machine then falls on a view and its bare SQL alike. One list of ms per call."""
    began = time.perf_counter()
    for _ in range(WARMUPS):
        for call in calls:
            call()
    each = (time.perf_counter() - began) / WARMUPS
    repeat = max(MIN_REPEAT, min(repeat, int(SCENARIO_BUDGET / max(each, 1e-6))))
    times: list[list[float]] = [[] for _ in calls]
    for _ in range(repeat):
        for call, spent in zip(calls, times, strict=True):
            began = time.perf_counter()
            call()
            spent.append((time.perf_counter() - began) * 1000)
    return times


def _queries(call: Callable[[], Any]) -> list[str]:
    """Every query `call` runs, captured from a call after a first one (which may save
    a new session): the SQL behind it. Transaction control (BEGIN, COMMIT, which
    Django lists too) is left out."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    call()
    with CaptureQueriesContext(connection) as captured:
        call()
    control = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")
    return [q["sql"] for q in captured.captured_queries if not q["sql"].startswith(control)]


def _run_bare(queries: list[str]) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for sql in queries:
            cursor.execute(sql)
            if cursor.description is not None:
                cursor.fetchall()


def _measure(result: Result, call: Callable[[], Any], repeat: int) -> Result:
    result.queries = _queries(call)
    result.times, result.bare = _repeat(call, lambda: _run_bare(result.queries), repeat=repeat)
    return result


# --- the table view -----------------------------------------------------------------


def _table_query(connector, params: dict[str, str]):
    from django.http import QueryDict
    from django.utils import timezone

    from connectors.explore import datatables

    stream = datatables.stream_for_table(_usage_model()._meta.db_table)
    get = QueryDict(urlencode(params))
    return datatables.parse_query(stream, get, timezone.now().date())


def _deep_cursor(connector, params: dict[str, str], page: int) -> tuple[int, str]:
    """The `after` cursor that opens page `page` of the default order (one OFFSET query),
    or the last full page when the range holds fewer pages (a small --rows): (page, cursor)."""
    from connectors.explore import datatables

    query = _table_query(connector, params)
    rows = datatables.filtered(connector, query).order_by("-start_time", "-id")
    rows = rows.values_list("start_time", "id")
    page = min(page, rows[: page * datatables.PAGE_SIZE].count() // datatables.PAGE_SIZE)
    if page < 2:
        raise SystemExit("The last 30 days answer fewer than two pages of rows: nothing is timed.")
    start, pk = rows[(page - 1) * datatables.PAGE_SIZE - 1]
    return page, datatables._encode(start, pk)


def _page_scenarios(connector) -> dict[str, dict[str, str]]:
    from bench import _views_data as data

    project, model = data.project_id(3), data.model_name(1)
    deep, cursor = _deep_cursor(connector, {}, DEEP_PAGE)
    return {
        "first page (last 30 days)": {},
        f"page {deep:,} (last 30 days)": {"after": cursor},
        "filtered: project + model": {"project": project, "model": model},
        "sorted: -inputTokens": {"sort": "-inputTokens"},
        "search: q=Project 03": {"q": "Project 03"},
        "first page (all time)": {"preset": "all"},
    }


def _client():
    from django.contrib.auth import get_user_model
    from django.test import Client

    user, _ = get_user_model().objects.get_or_create(
        username=STAFF, defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client(SERVER_NAME="localhost")  # an allowed host, without test settings
    client.force_login(user)
    return client


def _pages(connector, repeat: int) -> list[Result]:
    from django.urls import reverse

    url = reverse("connectors:table-detail", args=[connector.pk, "completions"])
    client = _client()
    _shows_figures("first page", _getter(client, url, {})(), '<tr class="totals">')
    results = []
    for name, params in _page_scenarios(connector).items():
        print(f"  page: {name} …", flush=True)
        _shows_figures(name, _getter(client, url, params)(), '<tr class="totals">')
        result = Result("page", name, PAGE_TARGET_MS)
        results.append(_measure(result, _getter(client, url, params), repeat))
    print("  page: Tables (every table's count, range, last update) …", flush=True)
    tables = reverse("connectors:table-list", args=[connector.pk])
    rows = f'<td class="num">{_usage_model().objects.filter(connector=connector).count():,}</td>'
    _shows_figures("Tables", _getter(client, tables, {})(), rows)
    result = Result("page", "Tables (the connector's table list)", PAGE_TARGET_MS)
    results.append(_measure(result, _getter(client, tables, {}), repeat))
    return results


UNANSWERED = ("cannot be answered", "Not collected by any task")


def _shows_figures(name: str, response, expected: str) -> None:
    """Before timing a page: it shows figures (`expected` is in it), not the planner's
    words for figures no task answers (a seed without coverage would time empty pages)."""
    text = response.content.decode()
    said = [words for words in UNANSWERED if words in text]
    if expected not in text or said:
        why = [f"{expected!r} is not in it"] if expected not in text else []
        why += [f"it says {words!r}" for words in said]
        raise SystemExit(f"{name}: the page shows no figures ({'; '.join(why)}); nothing is timed.")


def _floor(connector, repeat: int) -> Result:
    """The least any page here costs beyond its SQL: a logged-in request for the
    connector list (session, user, one small query, the base template)."""
    from django.urls import reverse

    print("  floor: the connector list …", flush=True)
    result = Result("floor", "connector list (no usage SQL)", PAGE_TARGET_MS)
    return _measure(result, _getter(_client(), reverse("connectors:connector-list"), {}), repeat)


def _floor_added(floor: Result) -> float:
    return floor.p50 - _percentile(floor.bare, 50)


def _getter(client, url: str, params: dict[str, str], **headers: str) -> Callable[[], Any]:
    def get() -> Any:
        response = client.get(url, params, **headers)
        if response.status_code != 200:
            raise RuntimeError(f"{url}?{urlencode(params)} answered {response.status_code}")
        return response

    return get


# --- totals -------------------------------------------------------------------------


def _totals(connector, repeat: int) -> list[Result]:
    from connectors.explore import datatables

    results = []
    for preset in ("last30", "all"):

        def call(preset=preset) -> Any:  # a new query each time, as a request parses one:
            # its planner answer (and the Coverage read behind it) is not cached across calls
            return datatables.totals(connector, _table_query(connector, {"preset": preset}))

        totals = call()
        if not totals["rows"]:
            raise SystemExit(f"totals ({preset}): no rows answer them; nothing is timed.")

        print(f"  totals: {preset} …", flush=True)
        result = Result("totals", f"totals ({preset})", PAGE_TARGET_MS)
        results.append(_measure(result, call, repeat))
    return results


# --- charts -------------------------------------------------------------------------

CHART_FILTERS = {  # the same filters as the table pages
    "last 30 days": {},
    "project + model": {"project": "proj_bench03", "model": "gpt-4o-mini-2024-07-18"},
    "all time": {"preset": "all"},
}


def _charts(connector, repeat: int) -> list[Result]:
    """The chart selectors of `connectors.explore.charts` for each of CHART_FILTERS, the table's
    chart fragment over HTTP, and the connector overview; nothing when the module does
    not import (yet)."""
    try:
        from connectors.explore import charts
    except Exception as error:  # a module being written may fail in any way
        print(f"  charts: skipped, connectors.explore.charts does not import ({error!r})")
        return []
    results = []
    for label, params in CHART_FILTERS.items():
        for name, call in _chart_calls(charts, connector, params).items():
            results.append(_chart(f"{name} ({label})", call, repeat))
    from connectors.explore import overview

    for name, call in _connector_calls(overview, connector).items():
        results.append(_chart(name, call, repeat))
    _print_untimed(charts)
    return results


TIMED = {"buckets", "query_buckets", "over_time", "over_times", "top", "table_charts"}


def _chart_calls(charts, connector, params: dict[str, str]) -> dict[str, Callable]:
    """One call per chart a table page draws, as `charts.table_charts` makes them. Each
    call starts from a new query, as a request does: the planner's answers (the Coverage
    read and the choice of rows) are part of every selector's time, never cached from
    an earlier call. `buckets` is that alone (`charts.query_buckets`: no row is read)."""
    stream = _table_query(connector, params).stream
    metrics = stream.main_metrics

    def found():
        found = charts.query_buckets(connector, _table_query(connector, params))
        if found is None:
            raise RuntimeError(f"no task answers the charts of {params or 'the last 30 days'}")
        return found

    found()  # fails here, before any timing, when no task answers
    return {
        "buckets": found,
        "over_time tokens by model": lambda: charts.over_time(connector, found(), metrics, "model"),
        "over_time requests by model": lambda: charts.over_time(
            connector, found(), ("numModelRequests",), "model"
        ),
        "over_times tokens + requests by model": lambda: charts.over_times(
            connector, found(), [metrics, ("numModelRequests",)], "model"
        ),
        **{
            f"top {column}": partial(_top, charts, connector, found, column, metrics)
            for column in ("projectId", "model", "userId")
        },
        "table_charts (all of them)": lambda: charts.table_charts(connector, stream, found()),
        "HTTP table-charts view": _chart_view(connector, params),
    }


def _top(charts, connector, found, column: str, metrics: tuple[str, ...]) -> list[dict]:
    return charts.top(connector, found().summed(column), column, metrics)


def _chart_view(connector, params: dict[str, str]) -> Callable:
    """The table's chart fragment, as its page asks for it (HTMX)."""
    from django.urls import NoReverseMatch, reverse

    try:
        url = reverse("connectors:table-charts", args=[connector.pk, "completions"])
    except NoReverseMatch as error:
        return lambda error=error: _raise(error)
    get = _getter(_client(), url, params, HTTP_HX_REQUEST="true")
    _shows_figures(f"charts of {params or 'the last 30 days'}", get(), "chart-main")
    return get


def _raise(error: Exception) -> None:
    raise error


def _connector_calls(overview, connector) -> dict[str, Callable]:
    from django.utils import timezone

    today = timezone.now().date()
    shown = overview.overview(connector, today.replace(day=1), today)
    tokens = [a for a in shown["answers"] if "tokens" in a["title"]]  # the seed has no costs
    if not tokens or any(not a["answer"].answered or a["missing"] for a in tokens):
        raise SystemExit("overview: its completions top lists have no task answering them.")
    return {
        "overview (this month)": lambda: overview.overview(connector, today.replace(day=1), today),
        "task_health": lambda: overview.task_health(connector),
    }


def _chart(name: str, call: Callable, repeat: int) -> Result:
    print(f"  chart: {name} …", flush=True)
    result = Result("chart", name, CHART_TARGET_MS)
    try:
        return _measure(result, lambda: _materialized(call()), repeat)
    except Exception as error:  # report it, time the others
        result.note = f"failed: {error!r}"[:140]
        return result


def _print_untimed(charts) -> None:
    public = {
        name
        for name, function in inspect.getmembers(charts, inspect.isfunction)
        if function.__module__ == charts.__name__ and not name.startswith("_")
    }
    if public - TIMED:
        print(f"  charts: not timed on their own: {', '.join(sorted(public - TIMED))}")


def _materialized(value: Any) -> Any:
    """Evaluate a QuerySet answer, as a template would; plain data is already evaluated."""
    from django.db.models import QuerySet

    return list(value) if isinstance(value, QuerySet) else value


# --- report -------------------------------------------------------------------------


def _ms(value: float) -> str:
    return "—" if value != value else f"{value:,.1f}"


def _report(results: list[Result], floor: Result, args: argparse.Namespace) -> None:
    _print_context(args)
    header = f"{'scenario':<46} {'n':>3} {'p50 ms':>8} {'p95 ms':>8} {'SQL p50':>8}"
    print(f"\n{header} {'SQL p95':>8} {'added':>7} {'ratio':>6} {'target':>7}  verdict")
    for section in ("page", "totals", "chart"):
        for result in (r for r in results if r.section == section):
            print(_line(result, floor))
    print(f"{_figures(floor)}  (any page adds this to its own SQL)")
    _print_targets(results, floor)


def _line(result: Result, floor: Result) -> str:
    if not result.times:
        return f"{f'{result.section}: {result.name}'[:46]:<46} {result.note}"
    misses = [w for w, ok in (("p95", result.fast), ("ratio", result.lean)) if not ok]
    if not result.lean and _below_floor(result, floor):
        misses[-1] = "ratio, under the floor"
    verdict = f"MISSED ({', '.join(misses)})" if misses else "met"
    return f"{_figures(result)} {result.target_ms:>5.0f}ms  {verdict}"


def _figures(result: Result) -> str:
    """The scenario's name, n, p50, p95, its SQL's p50 and p95, added time and ratio."""
    name = f"{result.section}: {result.name}"[:46]
    bare50, bare95 = _percentile(result.bare, 50), _percentile(result.bare, 95)
    return (
        f"{name:<46} {len(result.times):>3} {_ms(result.p50):>8} {_ms(result.p95):>8} "
        f"{_ms(bare50):>8} {_ms(bare95):>8} {_ms(result.p50 - bare50):>7} "
        f"{result.ratio:>5.2f}x"
    )


def _below_floor(result: Result, floor: Result) -> bool:
    """An HTTP view cannot come within 1.5x of SQL faster than twice the floor's added
    time: the request alone adds that to its SQL."""
    http = result.section == "page" or result.name.startswith("HTTP")
    return http and (RATIO_TARGET - 1) * _percentile(result.bare, 50) < _floor_added(floor)


def _print_context(args: argparse.Namespace) -> None:
    from django.db import connection

    table = _usage_model()._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_size_pretty(pg_database_size(current_database())),"
            " pg_size_pretty(pg_total_relation_size(%s::regclass)),"
            " current_setting('shared_buffers'), current_setting('work_mem'),"
            " current_setting('max_parallel_workers_per_gather'), current_setting('jit')",
            [f'"{table}"'],
        )
        db, rel, buffers, work_mem, workers, jit = cursor.fetchone()
    print(
        f"\n{args.rows:,} rows; table {table} {rel} with its indexes, database {db}. "
        f"Postgres: shared_buffers {buffers}, work_mem {work_mem}, "
        f"{workers} parallel workers per gather, jit {jit}. "
        f"{WARMUPS} warm-ups, then up to {args.repeat} timed runs (n); ratio = p50 / SQL p50; "
        f"target: p95 under it and ratio ≤ {RATIO_TARGET}x."
    )


def _print_targets(results: list[Result], floor: Result) -> None:
    timed = [r for r in results if r.times]
    missed = [r for r in timed if not (r.fast and r.lean)]
    fast = [r for r in timed if r.fast]
    print(f"\nTargets: {len(timed) - len(missed)} of {len(timed)} scenarios meet theirs.")
    print(
        f"  p95 under {PAGE_TARGET_MS:.0f} ms (pages) / {CHART_TARGET_MS:.0f} ms (charts): "
        f"{len(fast)} of {len(timed)}."
    )
    under = [r for r in missed if r.fast and _below_floor(r, floor)]
    print(
        f"  Of the misses, {len(under)} are HTTP views whose SQL takes under "
        f"{_floor_added(floor) / (RATIO_TARGET - 1):.1f} ms: the floor's added time "
        f"({_ms(_floor_added(floor))} ms) alone puts "
        f"them past {RATIO_TARGET}x."
    )
    for result in missed:
        why = []
        if not result.fast:
            why.append(f"p95 {_ms(result.p95)} ms ≥ {result.target_ms:.0f} ms")
        if not result.lean:
            why.append(f"{result.ratio:.2f}x its bare SQL > {RATIO_TARGET}x")
            why[-1] += " (under the floor)" if _below_floor(result, floor) else ""
        print(f"  MISSED {result.section}: {result.name}: {'; '.join(why)}")
    if not any(r.section == "chart" for r in results):
        print("  (charts not measured: connectors.explore.charts did not import)")


def _explain(results: list[Result]) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of each query behind each missed scenario."""
    from django.db import connection

    for result in (r for r in results if r.times and not (r.fast and r.lean)):
        for sql in result.queries:
            print(f"\n--- {result.section}: {result.name}\n{sql}\n")
            with connection.cursor() as cursor:
                cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
                print("\n".join(row[0] for row in cursor.fetchall()))


def main() -> None:
    args = _parse_args()
    if "bench" not in urlsplit(args.database_url).path:
        raise SystemExit("The database name must contain 'bench': its tables are emptied.")
    create_database(args.database_url)
    configure(args.database_url)
    _setup_django()
    connector = _prepare(args.rows, args.database_url)
    if not args.seed_only:
        _bench(connector, args)


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="rows to seed")
    parser.add_argument("--repeat", type=int, default=REPEAT, help="timed runs per scenario")
    parser.add_argument("--seed-only", action="store_true", help="seed, measure nothing")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE each miss")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    return parser.parse_args()


def _bench(connector, args: argparse.Namespace) -> None:
    from connectors.models import Connector

    connector = Connector.objects.get(pk=connector.pk)
    results = [
        *_pages(connector, args.repeat),
        *_totals(connector, args.repeat),
        *_charts(connector, args.repeat),
    ]
    _report(results, _floor(connector, args.repeat), args)
    if args.explain:
        _explain(results)


if __name__ == "__main__":
    main()
