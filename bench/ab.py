"""Benchmark: does a change to the read side change what a user waits for? Checkouts of
the code side by side on one database, their pages timed in turn.

Serves a checkout from before the change (`--before DIR`, e.g. a worktree of main) and
one or more after it (`--after NAME=DIR`, repeatable; by default this one) under
gunicorn (2 workers x 4 threads, as `bench/browser.py` serves it), plus a second server
of the before checkout as a control: the control's difference from before is what this
machine's noise alone does to a figure. Every server reads the database
`bench/views.py` seeds (ten million completions, a year of costs). Then:

- *server*: each page requested `--rounds` times from each server, the servers taking
  turns (the order rotates every round, so a slow spell of the machine falls on all of
  them); wall time of the request over loopback, body read (a page's server time);
- *charts drawn*: the completions table page, the costs table page and the Overview
  loaded `--loads` times in Chromium from each server in turn, each in a fresh browser
  context: from navigation start until every chart is drawn (as `bench/browser.py`);
- *same figures*: each page's body from every checkout compared with the before one's,
  markup spacing and the CSRF token set aside (a change to how the read side is
  written must not change what it shows).

Per page and server: p50, p95, the p50's difference from the before server's and the
median of the round-by-round differences (paired: each pair timed moments apart); the
load average (1, 5, 15 min) at start and end.

    .venv/bin/python bench/ab.py --before /work/wt/main-before [--after NAME=DIR ...]
                                 [--rounds 30] [--loads 10] [--no-browser]
                                 [--pages NAME,...] [--database-url URL]
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import _setup  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/datahub_bench_views"
HTMX_ROWS = {"HX-Request": "true", "HX-Target": "table-data"}
HTMX = {"HX-Request": "true"}


def _pages(base: str) -> dict[str, tuple[str, dict[str, str]]]:
    """name → (path under the connector, headers): the table page's views of
    `bench/views.py` (whole pages bring their charts), its rows alone (as a filter
    change asks for them), its chart fragment, the costs page and the Overview."""
    one = "project=proj_bench03&model=gpt-4o-mini-2024-07-18"
    return {
        "table page (30 days)": (f"{base}/tables/completions/", {}),
        "table page (all time)": (f"{base}/tables/completions/?preset=all", {}),
        "table page (project + model)": (f"{base}/tables/completions/?{one}", {}),
        "table page (split: project)": (f"{base}/tables/completions/?split=project", {}),
        "table page (split: metric)": (f"{base}/tables/completions/?split=metric", {}),
        "rows only (30 days)": (f"{base}/tables/completions/", HTMX_ROWS),
        "rows only (search)": (f"{base}/tables/completions/?q=Project+03", HTMX_ROWS),
        "charts (30 days)": (f"{base}/tables/completions/charts/", HTMX),
        "charts (all time)": (f"{base}/tables/completions/charts/?preset=all", HTMX),
        "charts (project + model)": (f"{base}/tables/completions/charts/?{one}", HTMX),
        "costs table page": (f"{base}/tables/costs/", {}),
        "overview": (f"{base}/overview/", {}),
    }


def _serve(tree: Path, env: dict[str, str], port: int) -> subprocess.Popen:
    """gunicorn from `tree` (its own code first on the path), once it accepts."""
    command = [sys.executable, "-m", "gunicorn", "datahub.wsgi", "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", "2", "--threads", "4", "--log-level", "warning"]
    server = subprocess.Popen(command, cwd=tree, env=env | {"PYTHONPATH": str(tree)})
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return server
        except OSError:
            time.sleep(0.1)
    server.terminate()
    raise SystemExit(f"The server of {tree} did not start.")


def _get(url: str, cookie: str, headers: dict[str, str]) -> tuple[float, bytes]:
    request = urllib.request.Request(url, headers={"Cookie": f"sessionid={cookie}", **headers})
    began = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as response:
        body = response.read()
    return (time.perf_counter() - began) * 1000, body


def _warm(ports: dict[str, int], pages: dict, cookie: str) -> None:
    """Every page from every worker and thread of each server (8 at once), untimed: a
    worker's first request imports the views."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        for port in ports.values():
            for path, headers in pages.values():
                url = f"http://127.0.0.1:{port}{path}"
                list(pool.map(lambda _, u=url, h=headers: _get(u, cookie, h), range(8)))


CSRF = re.compile(rb'(csrfmiddlewaretoken" value="|X-CSRFToken": ")[^"]+')


def _comparable(body: bytes) -> bytes:
    """A page's body without markup spacing and the per-request CSRF token."""
    return re.sub(rb">\s+<", b"><", CSRF.sub(rb"\1", body)).strip()


def _same_figures(ports: dict[str, int], pages: dict, cookie: str) -> None:
    print("\nThe same page as the before checkout's (markup spacing and CSRF token aside):")
    for name, (path, headers) in pages.items():
        before = _comparable(_get(f"http://127.0.0.1:{ports['before']}{path}", cookie, headers)[1])
        found = []
        for server, port in ports.items():
            if server != "before":
                body = _get(f"http://127.0.0.1:{port}{path}", cookie, headers)[1]
                found.append(f"{server} {'same' if _comparable(body) == before else 'DIFFERS'}")
        print(f"  {name:<30} {', '.join(found)}")


def _p(values: list[float], pct: int) -> float:
    """Nearest rank, as `bench/views.py` takes it."""
    ordered = sorted(values)
    return ordered[max(0, -(-len(ordered) * pct // 100) - 1)]


def _server_times(ports: dict[str, int], pages: dict, cookie: str, rounds: int) -> None:
    times = {(name, s): [] for name in pages for s in ports}
    order = list(ports)
    for round_ in range(rounds):
        turn = order[round_ % len(order) :] + order[: round_ % len(order)]
        for name, (path, headers) in pages.items():
            for server in turn:
                url = f"http://127.0.0.1:{ports[server]}{path}"
                times[name, server].append(_get(url, cookie, headers)[0])
    print(f"\nServer time, ms ({rounds} requests per page and server, in turn):")
    _table(pages, times, list(ports))


def _table(names, times: dict, servers: list[str]) -> None:
    """Per page, a line per server: p50, p95, its p50 minus the before server's, and the
    median of its differences from the before server round by round (each pair timed
    moments apart, so the machine's slow spells fall on both)."""
    print(f"{'page':<30} {'server':<10} {'p50':>8} {'p95':>8} {'p50 - before':>13} {'paired':>7}")
    for name in names:
        before = times[name, "before"]
        for i, server in enumerate(servers):
            found = times[name, server]
            diff = ""
            if server != "before":
                paired = statistics.median(a - b for a, b in zip(found, before, strict=True))
                diff = f"{_p(found, 50) - _p(before, 50):>+13.1f} {paired:>+7.1f}"
            print(
                f"{name if not i else '':<30} {server:<10} {_p(found, 50):>8.1f}"
                f" {_p(found, 95):>8.1f} {diff}"
            )


def _load(chromium, url: str, cookie: str, port: int) -> tuple[float, float]:
    """One load in a fresh browser context: ms until every chart is drawn (as
    `bench/browser.py` waits for them), and the server's time for the page."""
    from bench import browser as bench_browser

    context = bench_browser._context(chromium, cookie, port)
    page = context.new_page()
    page.goto(url, wait_until="commit")
    page.wait_for_function(bench_browser.DRAWN, timeout=60_000, polling="raf")
    drawn = page.evaluate("performance.now()")
    entry = page.evaluate(
        '() => { const e = performance.getEntriesByType("navigation")[0];'
        " return e.responseStart - e.requestStart; }"
    )
    context.close()
    return drawn, entry


def _drawn_times(ports: dict[str, int], base: str, cookie: str, loads: int) -> None:
    """Charts drawn in Chromium, a fresh context per load, the servers in turn."""
    from playwright.sync_api import sync_playwright

    from bench import browser as bench_browser

    pages = {
        "completions table": f"{base}/tables/completions/",
        "costs table": f"{base}/tables/costs/",
        "overview": f"{base}/overview/",
    }
    drawn = {(name, s): [] for name in pages for s in ports}
    served = {(name, s): [] for name in pages for s in ports}
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"),
            args=bench_browser.CHROME_FLAGS,
        )
        order = list(ports)
        for name, path in pages.items():
            for port in ports.values():  # a warm-up load each
                _load(chromium, f"http://127.0.0.1:{port}{path}", cookie, port)
            for load in range(loads):
                for server in order[load % len(order) :] + order[: load % len(order)]:
                    port = ports[server]
                    url = f"http://127.0.0.1:{port}{path}"
                    found_drawn, found_served = _load(chromium, url, cookie, port)
                    drawn[name, server].append(found_drawn)
                    served[name, server].append(found_served)
        chromium.close()
    print(f"\nCharts drawn in Chromium, ms from navigation start ({loads} loads each, in turn):")
    _table(pages, drawn, order)
    print("\n  the same loads' server time (Resource Timing), ms:")
    _table(pages, served, order)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, type=Path, help="the checkout to compare")
    parser.add_argument(
        "--after",
        action="append",
        metavar="NAME=DIR",
        help="a checkout to compare with it (repeatable); default: this one, as 'after'",
    )
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--loads", type=int, default=10)
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument(
        "--pages", default="", help="time only the pages whose names contain one of these (a,b)"
    )
    args = parser.parse_args()

    _setup.configure(args.database_url)
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))  # the servers share it
    import django

    django.setup()
    from bench import browser as bench_browser

    connector = bench_browser._connector(own=False)
    if connector is None:
        raise SystemExit(f"{args.database_url} holds no bench-views seed: run bench/views.py.")
    cookie = bench_browser._session_cookie()
    env = os.environ | {"DATABASE_URL": args.database_url, "DEBUG": ""}
    trees = {"before": args.before.resolve(), "control": args.before.resolve()}
    for given in args.after or [f"after={ROOT}"]:
        name, _, tree = given.partition("=")
        trees[name] = Path(tree).resolve()
    ports = {name: _setup.free_port() for name in trees}
    servers = [_serve(tree, env, ports[name]) for name, tree in trees.items()]
    base = f"/connectors/{connector.pk}"
    pages = _pages(base)
    if args.pages:
        wanted = args.pages.split(",")
        pages = {name: page for name, page in pages.items() if any(w in name for w in wanted)}
    for name, tree in trees.items():
        print(f"{name}: {tree}" + (" (the before checkout again)" if name == "control" else ""))
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    try:
        _warm(ports, pages, cookie)
        _same_figures(ports, pages, cookie)
        _server_times(ports, pages, cookie, args.rounds)
        if not args.no_browser:
            _drawn_times(ports, base, cookie, args.loads)
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(10)
    print(f"\nload average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
