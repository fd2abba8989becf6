"""Fuzz a real Data Hub over HTTP: hostile requests to every URL, as every role.

Serves the Data Hub with gunicorn (as bench/browser.py does) on its own Postgres database,
seeded with the world of tests/security/world.py (users of each role, a connector whose
admin key, known here, collected a few days from the emulator, its tasks and runs, a trap
server posing as another Admin API). Each URL's parameters are found as the suite finds
them (tests/security/surface.py); then `--requests` requests drawn by the suite's
generator (tests/security/hostile.py, from a seeded random.Random) go out one at a time
with httpx, every streamed answer read to its end. It prints the requests sent, by
status and by URL pattern, and every finding:

- a 5xx, with its request and the exception the server logged (type and place);
- a download cut off after its 200 (the connection closed mid-body, or no final line);
- key material (a piece of the admin key or its ciphertext) in a body, a header or the
  server's log, or the key sent to the trap;
- traceback text in a body; a refused request (4xx, or a form with errors) that
  changed saved data; a connection error.

It exits 1 on any finding. Requests an administrator may make that delete part of the
world (the connector, a task, a user) are followed by seeding it again.

    .venv/bin/python bench/fuzz.py [--requests N] [--seed N] [--database-url URL]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import _setup, browser  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/datahub_bench_fuzz"
QUEUE = "datahub-bench-fuzz"


def _serve_logged(database_url: str, port: int, log_path: Path):
    """bench/browser.py's gunicorn, its stderr (Django's log) into `log_path`."""
    with open(log_path, "wb") as log:
        saved = os.dup(2)
        os.dup2(log.fileno(), 2)
        try:
            return browser._serve(database_url, port)
        finally:
            os.dup2(saved, 2)
            os.close(saved)


class Sessions:
    """A session cookie per logged-in role and one CSRF token, made in this process."""

    def __init__(self) -> None:
        self.csrf = secrets.token_hex(16)  # 32 characters: Django's unmasked token
        self.cookies: dict[str, str] = {}
        self.login()

    def login(self) -> None:
        for role, client in _world.clients().items():
            session = client.cookies.get("sessionid")
            self.cookies[role] = session.value if session else ""

    def valid(self) -> bool:
        from django.contrib.sessions.models import Session

        keys = [k for k in self.cookies.values() if k]
        return Session.objects.filter(session_key__in=keys).count() == len(keys)

    def headers(self, attempt) -> dict[str, str]:
        cookie = f"csrftoken={self.csrf}"
        if self.cookies.get(attempt.role):
            cookie += f"; sessionid={self.cookies[attempt.role]}"
        headers = {"Cookie": cookie, **_world.headers(attempt.role), **attempt.headers}
        if attempt.method == "POST":
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            if attempt.csrf:
                headers["X-CSRFToken"] = self.csrf
        return headers


_world = None


class Log:
    """The server's log, read from where the last request left it."""

    FRAME = re.compile(r'File "([^"]+)", line (\d+), in (\w+)')

    def __init__(self, path: Path) -> None:
        self.path, self.offset = path, 0

    def new(self) -> str:
        with open(self.path, "rb") as log:
            log.seek(self.offset)
            text = log.read().decode("utf-8", "replace")
        self.offset += len(text.encode("utf-8", "replace"))
        return text

    def exception(self, text: str) -> str:
        """The last exception logged in `text`: its type and message, and the last frame
        of the project's own code it passed."""
        if "Traceback" not in text:
            return "(no traceback in the server log)"
        block = text[text.rindex("Traceback") :]
        lines = [line for line in block.splitlines() if line and not line.startswith(" ")]
        ours = [m for m in self.FRAME.finditer(block) if "site-packages" not in m.group(1)]
        place = ""
        if ours:
            path, line, function = ours[-1].groups()
            place = f" at {os.path.relpath(path, ROOT)}:{line} in {function}"
        return f"{lines[-1][:200] if len(lines) > 1 else '?'}{place}"


def _send(http, sessions: Sessions, attempt) -> tuple[int, list, bytes, str]:
    """Send one attempt and read its answer to the end: status, headers, body, and what
    broke (a connection error, a body cut off), if anything did."""
    import httpx

    try:
        request = http.build_request(
            attempt.method,
            attempt.url,
            content=attempt.body if attempt.method == "POST" else None,
            headers=sessions.headers(attempt),
        )
    except (httpx.InvalidURL, httpx.LocalProtocolError, UnicodeEncodeError, ValueError) as e:
        return 0, [], b"", f"not sendable: {type(e).__name__}"
    try:
        response = http.send(request, stream=True)
    except httpx.LocalProtocolError as error:  # a header value h11 will not send
        return 0, [], b"", f"not sendable: {error}"
    except httpx.HTTPError as error:
        return -1, [], b"", f"connection error: {type(error).__name__}: {error}"[:200]
    chunks, broke = [], ""
    try:
        for chunk in response.iter_raw():
            chunks.append(chunk)
    except httpx.HTTPError as error:
        broke = f"cut off after {sum(map(len, chunks)):,} bytes: {type(error).__name__}"
    finally:
        response.close()
    body = b"".join(chunks)
    csv = "text/csv" in response.headers.get("content-type", "")
    if csv and response.status_code == 200 and body and not body.endswith(b"\n") and not broke:
        broke = f"cut off after {len(body):,} bytes: no final line end"
    return response.status_code, response.headers.multi_items(), body, broke


def main() -> int:
    global _world
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(2**32)

    var = Path(tempfile.mkdtemp(prefix="datahub-fuzz-"))
    os.environ.update(
        DATAHUB_VAR_DIR=str(var),  # an embedded broker, if any, is the benchmark's own
        CELERY_QUEUE=QUEUE,  # runs queued by the requests reach no worker of another
        LOG_LEVEL="ERROR",
    )
    _setup.configure(args.database_url)
    _setup.create_database(args.database_url)
    import django

    django.setup()
    import httpx
    from django.core.management import call_command
    from django.test.utils import setup_test_environment

    from tests.security import checks, hostile, surface, values, world

    call_command("migrate", verbosity=0)
    setup_test_environment()  # the test client, for discovery: the 'testserver' host
    secret = "sk-admin-" + secrets.token_urlsafe(24)
    _world = world.start(secret)
    os.environ["OPENAI_BASE_URL"] = _world.trap.base_url  # a new connector's default
    print("Seeding: users, a connector collected from the emulator, its tasks …", flush=True)
    world.unseed()
    world.seed(_world)
    targets = _targets(surface, hostile)
    print(f"{len(targets)} URL patterns; discovery done.", flush=True)
    fragments = checks.key_fragments(*_world.secrets())
    port = args.port or _setup.free_port()
    log = Log(var / "server.log")
    server = _serve_logged(args.database_url, port, log.path)
    sessions = Sessions()
    rng = random.Random(seed)
    draw = values.RandomDraw(rng)
    sql = world.snapshot_sql()
    statuses, routes, took, findings = Counter(), Counter(), Counter(), []
    stop = threading.Event()  # Ctrl-C: stop sending, report what was sent
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    started = time.monotonic()
    print(f"Sending {args.requests:,} requests (seed {seed}) to 127.0.0.1:{port} …", flush=True)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            before = world.snapshot(sql)
            for n in range(args.requests):
                if stop.is_set():
                    break
                target = targets[rng.choice(sorted(targets))]
                attempt = hostile.random_attempt(draw, target)
                sent = time.monotonic()
                status, headers, body, broke = _send(http, sessions, attempt)
                statuses[status] += 1
                routes[attempt.route.name] += 1
                took[attempt.route.name] += time.monotonic() - sent
                problems = checks.findings(attempt, max(status, 0), headers, body, fragments)
                problems = [p for p in problems if not p.startswith("status ")]
                logged = log.new()
                if status >= 500:
                    problems.append(f"{status}: {log.exception(logged)}")
                if broke and not broke.startswith("not sendable"):
                    problems.append(broke)
                after = world.snapshot(sql)
                if 0 < status < 500 and checks.refused(status, body) and after != before:
                    changed = sorted(t for t in after if after[t] != before.get(t))
                    problems.append(f"refused ({status}), yet it changed {', '.join(changed)}")
                before = after
                if _world.trap.received(secret):
                    _world.trap.server.received.clear()
                    problems.append("the admin key was sent to another base URL")
                for problem in problems:
                    findings.append(f"{problem} ← {attempt}")
                    print(f"  ! {findings[-1][:400]}", flush=True)
                if attempt.method == "POST" and 0 < status < 400:
                    reseeded, relogged = _repair(world, sessions)
                    for target in targets.values() if reseeded else ():  # the new ids
                        target.path_values = surface.path_values(target.route)
                    if reseeded:
                        fragments = checks.key_fragments(*_world.secrets())
                    if reseeded or relogged:  # logging in writes last_login
                        before = world.snapshot(sql)
                if (n + 1) % 1000 == 0:
                    print(f"  {n + 1:,} sent, {len(findings)} findings", flush=True)
    finally:
        server.terminate()
        server.wait(10)
        _world.close()
    leaked = [f for f in fragments if f in log.path.read_text("utf-8", "replace")]
    if leaked:
        findings.append(f"key material in the server log ({len(leaked)} pieces)")
    sent = sum(statuses.values())
    _report(sent, time.monotonic() - started, statuses, routes, took, findings)
    _purge_queue()
    if findings:
        print(f"The server's log, with each traceback: {log.path}")
        return 1
    shutil.rmtree(var)
    return 0


def _targets(surface, hostile) -> dict:
    """Each URL pattern's target: its path values (the world's current ids) and the
    parameters and values discovery found."""
    import logging

    logging.getLogger("django.request").setLevel(logging.CRITICAL)  # discovery's 4xx
    client = _world.clients(raise_request_exception=False)["administrator"]
    good = {"base_url": [_world.trap.base_url, _world.emulator_url]}
    found = {}
    for route in surface.routes():
        paths = surface.path_values(route)
        found[route.name] = (route, surface.discover(route, client, paths, good), paths)
    good = surface.local_only(good)
    partials = surface.partials()
    return {n: hostile.Target(r, s, v, good, partials) for n, (r, s, v) in found.items()}


def _repair(world, sessions: Sessions) -> tuple[bool, bool]:
    """After an accepted POST: seed again what it deleted, log in again a role it logged
    out. Returns whether it seeded, and whether it logged in."""
    if world.missing():
        world.unseed()
        world.seed(_world)
        sessions.login()
        return True, True
    if not sessions.valid():
        sessions.login()
        return False, True
    return False, False


def _report(sent: int, seconds: float, statuses, routes, took, findings) -> None:
    print(f"\n{sent:,} requests in {seconds:,.0f} s ({sent / seconds:,.0f}/s)")
    print(
        "By status: "
        + ", ".join(f"{s if s > 0 else 'none'}: {c:,}" for s, c in sorted(statuses.items()))
    )
    print("By URL pattern (requests, mean time to the last byte):")
    for name, count in sorted(routes.items()):
        print(f"  {count:>6,}  {took[name] / count * 1000:>6,.0f} ms  {name}")
    kinds = Counter(_kind(f) for f in findings)
    print(f"\nFindings: {len(findings)}" + "".join(f"\n  {c:>5}  {k}" for k, c in kinds.items()))
    for finding in findings:
        print(f"- {finding[:1500]}")
    if not findings:
        print("None: no 5xx, no key material, no traceback, no cut-off download.")


def _kind(finding: str) -> str:
    for kind in (
        "key material",
        "admin key was sent",
        "traceback",
        "cut off",
        "refused",
        "connection error",
    ):
        if kind in finding:
            return kind
    match = re.match(r"(5\d\d): ([\w.]+)(?:: .*?)?((?: at \S+ in \w+)?) ← ", finding)
    return f"{match.group(1)} {match.group(2)}{match.group(3)}" if match else finding[:80]


def _purge_queue() -> None:
    from django.conf import settings

    if settings.CELERY_BROKER_URL.startswith("redis"):
        import redis

        redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(QUEUE)


if __name__ == "__main__":
    sys.exit(main())
