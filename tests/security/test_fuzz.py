"""Hostile input to every URL, as every role, never breaks the Data Hub.

Every URL of the URL conf is sent every swept hostile value in every parameter its view
reads (found by watching the view read them), and its own form, valid but for one field
given values of that field's kind (dates at the calendar's ends, numbers out of range,
another base URL): a deterministic sweep. Then requests of random shape drawn by
Hypothesis, as an anonymous user, a viewer and an administrator (who also carries a
Data API key). Every answer must hold:

- no server error (5xx) and no traceback text;
- no key material: the connector's admin key (or the Data API key), a piece of it or
  its ciphertext, is in no body or header, and no request makes the Data Hub send the
  admin key anywhere but the base URL it was checked at (a trap server stands by as
  another one);
- a refused request (4xx, or a form with errors) changes nothing saved.

Each request runs in a transaction rolled back afterwards, so each starts from the same
saved world (`tests.security.world`). bench/fuzz.py sends the same requests to a real
server over HTTP.
"""

from __future__ import annotations

import traceback
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
from django.db import DatabaseError, transaction
from django.test import override_settings
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.security import checks, hostile, surface, values, world

ROUTES = surface.routes()
SECRET = "sk-admin-Zq8Lw3Vx7Rk2Tm9Pb4Nc6Hd1Jf5Gy0Ks"
ROOT = Path(__file__).resolve().parents[2]
FAST = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # logins are tried by the hundred

# The sweep's known failures whose fixes have not landed: route name → the bug. Each
# turns the test red (strict) once fixed: then remove its line.
KNOWN: dict[str, str] = {}


def _params(routes, known_failures: dict[str, str]) -> list:
    found = []
    for route in routes:
        known = known_failures.get(route.name)
        marks = [pytest.mark.xfail(strict=True, reason=known)] if known else []
        found.append(pytest.param(route, id=route.name, marks=marks))
    return found


class Fuzzed:
    """The saved world, each route's target, and how one attempt is sent and judged."""

    def __init__(self, saved: world.World) -> None:
        self.world = saved
        self.clients = saved.clients(raise_request_exception=False)
        self.cookies = {role: SimpleCookie(c.cookies) for role, c in self.clients.items()}
        self.fragments = checks.key_fragments(*saved.secrets())
        self.sql = world.snapshot_sql()
        good: dict[str, list[str]] = {"base_url": [saved.trap.base_url, saved.emulator_url]}
        found = {}
        for route in ROUTES:
            paths = surface.path_values(route)
            discovered = surface.discover(route, self.clients["administrator"], paths, good)
            found[route.name] = (discovered, paths)
        good = surface.local_only(good)
        partials = surface.partials()
        self.targets = {
            route.name: hostile.Target(route, *found[route.name], good, partials)
            for route in ROUTES
        }
        # Each request is rolled back: every one starts from this.
        self.saved = world.snapshot(self.sql)

    def check(self, attempt: hostile.Attempt) -> list[str]:
        client = self.clients[attempt.role]
        client.cookies = SimpleCookie(self.cookies[attempt.role])
        with transaction.atomic():
            problems = self._sent(client, attempt)
            transaction.set_rollback(True)
        if self.world.trap.received(self.world.secret):
            self.world.trap.server.received.clear()
            problems.append("the admin key was sent to another base URL")
        return [f"{attempt}: {p}" for p in problems]

    def _sent(self, client, attempt: hostile.Attempt) -> list[str]:
        before = world.writes()
        response = client.generic(
            attempt.method,
            attempt.url,
            attempt.body,
            content_type="application/x-www-form-urlencoded",
            headers=attempt.headers,
        )
        body, broke = _body(response)
        problems = checks.findings(
            attempt, response.status_code, list(response.items()), body, self.fragments
        )
        if response.status_code >= 500:
            return [p for p in problems if not p.startswith("status")] + [_where(response)]
        problems += [f"the download broke after {response.status_code}: {broke}"] * bool(broke)
        if checks.refused(response.status_code, body):
            try:
                changed = world.writes() != before and world.snapshot(self.sql) != self.saved
            except DatabaseError as error:
                return problems + [f"refused, with its transaction broken: {error}"]
            problems += ["refused, yet it changed saved data"] * changed
        elif attempt.method == "POST" and response.status_code in (301, 302, 303):
            after = client.get(response["Location"])  # the page showing what was saved
            body, _ = _body(after)
            seen = checks.findings(attempt, after.status_code, [], body, self.fragments)
            if after.status_code >= 500:
                seen = [p for p in seen if not p.startswith("status")] + [_where(after)]
            problems += [f"then GET {response['Location']}: {p}" for p in seen]
        return problems


def _body(response) -> tuple[bytes, str]:
    if not response.streaming:
        return response.content, ""
    chunks = []
    try:
        for chunk in response.streaming_content:
            chunks.append(chunk)
    except Exception as error:  # a download that breaks halfway: reported, not raised
        return b"".join(chunks), f"{type(error).__name__} {error}"[:200]
    return b"".join(chunks), ""


def _where(response) -> str:
    """The exception behind a 500 and the last line of the project's code it passed."""
    if not getattr(response, "exc_info", None):
        return "(no exception recorded)"
    kind, error, tb = response.exc_info
    frames = traceback.extract_tb(tb)
    ours = [f for f in frames if str(ROOT) in f.filename and "/tests/" not in f.filename]
    last = (ours or frames)[-1]  # else the library's own line (site-packages/…)
    place = f"{last.filename.split('site-packages/')[-1].replace(str(ROOT) + '/', '')}"
    return f"{response.status_code}: {kind.__name__}: {str(error)[:120]} at {place}:{last.lineno}"


@pytest.fixture(scope="module")
def fuzzed(django_db_setup, django_db_blocker):
    """The saved world, committed once for this module's tests and removed after them."""
    with django_db_blocker.unblock():
        saved = world.start(SECRET)
        with override_settings(OPENAI_BASE_URL=saved.trap.base_url, PASSWORD_HASHERS=FAST):
            try:
                world.seed(saved)
                yield Fuzzed(saved)
            finally:
                world.unseed()
                saved.close()


@pytest.mark.parametrize("route", _params(ROUTES, KNOWN))
def test_it_survives_every_hostile_value(route, fuzzed, db):
    target = fuzzed.targets[route.name]
    problems = [p for a in hostile.sweep(target) for p in fuzzed.check(a)]
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:15])


@pytest.mark.parametrize("route", _params(ROUTES, {}))
@settings(
    max_examples=3,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: the failing request is shown
    derandomize=True,  # the suite's examples are the same on every run; bench/fuzz.py explores
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_it_survives_random_requests(route, fuzzed, db, data):
    attempt = hostile.random_attempt(values.HypothesisDraw(data), fuzzed.targets[route.name])
    problems = fuzzed.check(attempt)
    assert not problems, "\n".join(problems)
