"""Benchmark: how long does a person wait for the data pages' charts, in a real browser?

Starts the Data Hub (gunicorn, as `make run` does, 2 workers x 4 threads) on a
benchmark database, has every worker serve each page (8 requests at once per page: a
worker's first request imports the views), and loads, in Playwright's Chromium, each
page `--loads` times (after one warm-up), every load in a fresh browser context (an
empty cache, as a first visit), then `--loads` times more in one context (the browser's
cache kept, as a second visit):

- the completions table page (last 30 days), the costs table page (last 30 days) and the
  connector's Overview;
- *charts drawn*: from navigation start until every chart of the page is drawn on its
  canvas by Chart.js (the page, its scripts, and the drawing: a table page's charts come
  in the page itself) or the page says there is nothing to chart;
- *server*: the time the server took for the page (and for a charts fragment, were one
  requested: request sent to first byte, from the browser's Resource Timing);
- *bytes*: every byte the browser received for the load (transfer sizes, 0 for what
  came from its cache), and the chart library's share;
- *DOM ready* and *data*: when the page's DOMContentLoaded ended and when the last of
  the charts' data arrived (p50), and the machine's load average (1 min) at the end.

p50 and p95 of the charts-drawn time are compared with the 1 s target.

    .venv/bin/python bench/browser.py [--database-url URL] [--loads N] [--port N]

The database defaults to postgres://…/datahub_bench_views, the ten-million-row table of
`bench/views.py` (and its year of daily costs), read only (a staff user and its session
are added to log in; it is migrated first). When it
holds no "bench-views" connector, the benchmark collects its own data from the local
emulator instead (a month of hourly completions by project and model, and costs by
project and line item) into `datahub_bench_browser`, and says so.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import _setup  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/datahub_bench_views"
OWN_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/datahub_bench_browser"
TARGET_MS = 1000
STAFF = "bench-browser-staff"
CHROME_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]

# Every chart is drawn on its canvas, or the page says why it has none.
DRAWN = """() => {
  const section = document.getElementById("table-charts");
  if (section && section.querySelector(".chart-loading")) return false;
  const charts = [...document.querySelectorAll("[data-chart]")];
  return charts.every(c => window.Chart && Chart.getChart(c.querySelector("canvas")));
}"""
TIMINGS = """() => {
  const entries = [...performance.getEntriesByType("navigation"),
                   ...performance.getEntriesByType("resource")];
  return entries.map(e => ({name: e.name, bytes: e.transferSize,
                            server: e.responseStart - e.requestStart, end: e.responseEnd,
                            ready: e.domContentLoadedEventEnd || 0}));
}"""


def _django(database_url: str) -> None:
    _setup.configure(database_url)
    # The server started below inherits it, so it knows the session this process makes.
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)  # the seed may predate the newest migrations


def _seeded(database_url: str) -> bool:
    """Whether the database exists and its bench-views connector has completions."""
    import psycopg

    try:
        with psycopg.connect(database_url) as conn:
            found = conn.execute(
                "SELECT EXISTS (SELECT 1 FROM completions c JOIN connectors_connector k"
                ' ON k.id = c."connectorId" WHERE k.name = %s)',
                ["bench-views"],
            ).fetchone()
            return bool(found and found[0])
    except psycopg.Error:
        return False


def _connector(own: bool):
    from connectors.models import Connector

    name = "bench-browser" if own else "bench-views"
    return Connector.objects.filter(name=name).first()


def _collect_own() -> None:
    """A month of completions and costs from the emulator, once (kept between runs)."""
    from connectors.collection import engine
    from connectors.models import Connector, Task, TaskRun
    from connectors.openai.emulator import DEFAULT_SEED, DEMO_ADMIN_KEY, Emulator, serve_in_thread

    if _connector(own=True) is not None:
        return
    print("Collecting a month of completions and costs from the emulator …", flush=True)
    emulator = Emulator(seed=DEFAULT_SEED, now=int(time.time()) // 3600 * 3600)
    with serve_in_thread(emulator) as server:
        connector = Connector(
            kind="openai", name="bench-browser", base_url=server.base_url, requests_per_minute=0
        )
        connector.set_admin_key(DEMO_ADMIN_KEY)
        connector.save()
        start = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 40 * 86400))
        tasks = {
            "projects": {"IncludeArchived": True},
            "completions": {
                "StartTime": start,
                "BucketWidth": "1h",
                "GroupBy": ["project_id", "model"],
            },
            "costs": {"StartTime": start, "GroupBy": ["project_id", "line_item"]},
        }
        for query_type, parameters in tasks.items():
            params = {"type": query_type} | {f"{query_type}-{k}": v for k, v in parameters.items()}
            task = Task.objects.create(
                connector=connector, query_type=query_type, parameters=params
            )
            run = TaskRun.objects.create(task=task, trigger="manual")
            engine.run_execute(run.pk)
            run.refresh_from_db()
            print(f"  {query_type}: {run.status}", flush=True)


def _session_cookie() -> str:
    from django.contrib.auth import get_user_model
    from django.test import Client

    user, _ = get_user_model().objects.get_or_create(
        username=STAFF, defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client(SERVER_NAME="localhost")
    client.force_login(user)
    return client.cookies["sessionid"].value


def _serve(database_url: str, port: int) -> subprocess.Popen:
    env = os.environ | {"DATABASE_URL": database_url, "DEBUG": ""}
    return _setup.serve(env, port, "--workers", "2", "--threads", "4")


def _warm(urls: list[str], cookie: str, times: int = 8) -> None:
    """Each page requested `times` times at once before any load is timed, so every
    worker and thread of the server has served it: a worker's first request imports
    the views and the URLs (about 1 s on this machine), which a visitor meets once per
    worker after a restart, not on each visit."""
    import urllib.request
    from concurrent.futures import ThreadPoolExecutor

    def get(url: str) -> None:
        request = urllib.request.Request(url, headers={"Cookie": f"sessionid={cookie}"})
        with urllib.request.urlopen(request, timeout=120) as response:
            response.read()

    with ThreadPoolExecutor(times) as pool:
        for url in urls:
            list(pool.map(get, [url] * times))


def _context(browser, cookie: str, port: int):
    # wait_for_function polls with eval in the page, which its Content-Security-Policy refuses.
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    context.add_cookies([{"name": "sessionid", "value": cookie, "url": f"http://127.0.0.1:{port}"}])
    return context


def _load(browser, url: str, cookie: str, port: int, context=None) -> dict:
    """One load in a fresh context (a first visit), or in `context` (its cache kept)."""
    own = context is None
    context = _context(browser, cookie, port) if own else context
    page = context.new_page()
    page.goto(url, wait_until="commit")
    page.wait_for_function(DRAWN, timeout=60_000, polling="raf")
    drawn = page.evaluate("performance.now()")
    entries = page.evaluate(TIMINGS)
    page.close()
    if own:
        context.close()
    server = [e["server"] for e in entries if e["name"].split("?")[0].endswith("/")]
    return {
        "drawn": drawn,
        "server": sum(server),
        "bytes": sum(e["bytes"] for e in entries),
        "library": sum(e["bytes"] for e in entries if "/static/vendor/" in e["name"]),
        "ready": max(e["ready"] for e in entries),  # the page's DOM ready, scripts run
        "data": max(e["end"] for e in entries if "/charts/" in e["name"] or e["ready"]),
    }


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--loads", type=int, default=10)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()

    database_url = args.database_url
    own = not _seeded(database_url)
    if own:
        print(f"{database_url} holds no seeded bench-views connector (bench/views.py seeds it).")
        print(f"Measuring on {OWN_DATABASE_URL} instead, with data from the emulator.")
        database_url = OWN_DATABASE_URL
        _setup.create_database(database_url)
    _django(database_url)
    if own:
        _collect_own()
    connector = _connector(own)
    cookie = _session_cookie()
    port = args.port or _setup.free_port()
    server = _serve(database_url, port)
    base = f"http://127.0.0.1:{port}/connectors/{connector.pk}"
    pages = {
        "completions table": f"{base}/tables/completions/",
        "costs table": f"{base}/tables/costs/",
        "overview": f"{base}/overview/",
    }
    from playwright.sync_api import sync_playwright

    try:
        _warm(list(pages.values()), cookie)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"), args=CHROME_FLAGS
            )
            print(
                f"\n{args.loads} loads each, a fresh browser context per load; target p95 "
                f"{TARGET_MS} ms until the charts are drawn\n"
            )
            print(
                f"{'page':<18} {'drawn p50':>9} {'p95':>7} {'server p50':>10} {'p95':>6}"
                f" {'KB':>7} {'chart lib KB':>12} {'DOM ready':>9} {'data':>6} {'load':>5}  target"
            )
            for name, url in pages.items():
                _load(browser, url, cookie, port)  # warm-up: the server's caches
                _report(name, [_load(browser, url, cookie, port) for _ in range(args.loads)])
                context = _context(browser, cookie, port)  # the browser's cache kept
                _load(browser, url, cookie, port, context)
                loads = [_load(browser, url, cookie, port, context) for _ in range(args.loads)]
                _report("  again (cached)", loads)
                context.close()
            browser.close()
    finally:
        server.terminate()
        server.wait(10)


def _report(name: str, loads: list[dict]) -> None:
    drawn = [x["drawn"] for x in loads]
    served = [x["server"] for x in loads]
    kb = statistics.median(x["bytes"] for x in loads) / 1024
    lib = statistics.median(x["library"] for x in loads) / 1024
    verdict = "met" if _p(drawn, 0.95) <= TARGET_MS else "MISSED"
    print(
        f"{name:<18} {_p(drawn, 0.5):>7.0f}ms {_p(drawn, 0.95):>5.0f}ms"
        f" {_p(served, 0.5):>8.0f}ms {_p(served, 0.95):>4.0f}ms"
        f" {kb:>7,.0f} {lib:>12,.0f}"
        f" {_p([x['ready'] for x in loads], 0.5):>7.0f}ms"
        f" {_p([x['data'] for x in loads], 0.5):>6.0f}ms {os.getloadavg()[0]:>5.1f}  {verdict}",
        flush=True,
    )


if __name__ == "__main__":
    main()
