"""Hostile requests: one of random shape (`random_attempt`), or every swept value in every
parameter of a URL (`sweep`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlencode

from tests.security.surface import BRANCHES, ROLES, Route, Surface
from tests.security.values import (
    HOSTILE,
    HTMX_TARGETS_EXTRA,
    SWEPT,
    TYPED,
    Draw,
    hostile_value,
    kind_of,
)


@dataclass
class Attempt:
    """One request: who sends it, where, and with what."""

    route: Route
    role: str
    method: str
    path: str
    query: list[tuple[str, str | bytes]] = field(default_factory=list)
    form: list[tuple[str, str | bytes]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    csrf: bool = True  # send the CSRF token (over HTTP; the test client does not check)

    @property
    def url(self) -> str:
        return f"{self.path}?{urlencode(self.query)}" if self.query else self.path

    @property
    def body(self) -> bytes:
        return urlencode(self.form).encode()

    def sent(self) -> list[str]:
        """Every value sent, as text (an echo of one is not a leak or a traceback)."""
        values = [v for _, v in self.query + self.form] + list(self.headers.values())
        return [v.decode("latin-1") if isinstance(v, bytes) else v for v in values]

    def __str__(self) -> str:
        def short(pairs):
            return [
                (
                    k,
                    (v[:60] + b"..." if isinstance(v, bytes) else v[:60] + "...")
                    if len(v) > 60
                    else v,
                )
                for k, v in pairs
            ]

        parts = [f"{self.method} {self.path} as {self.role}"]
        if self.query:
            parts.append(f"query={short(self.query)!r}")
        if self.form:
            parts.append(f"form={short(self.form)!r}")
        if self.headers:
            parts.append(f"headers={self.headers!r}")
        return " ".join(parts)


@dataclass
class Target:
    """A route with what its view reads and the values its path and fields take."""

    route: Route
    surface: Surface
    path_values: dict[str, tuple[list[str], list[str]]]
    good: dict[str, list[str]]
    partials: Sequence[str]

    def path(self, draw: Draw | None = None, index: int = 0, bogus: bool = False) -> str:
        values = {}
        for param, (real, fake) in self.path_values.items():
            options = fake if bogus or not real else real
            values[param] = draw.pick(options) if draw else options[index % len(options)]
        return self.route.path(values)


def random_attempt(draw: Draw, target: Target) -> Attempt:
    """A request of random shape: any role and method, real or bogus ids, a random
    subset of the view's parameters (some repeated), valid, hostile or missing; or the
    page's own valid form with one or two fields spoilt."""
    method = draw.pick(("GET", "GET", "POST", "POST", "POST", "HEAD", "PUT", "DELETE"))
    role = draw.pick(ROLES)
    attempt = Attempt(target.route, role, method, target.path(draw, bogus=_rare(draw)))
    attempt.query = _pairs(draw, target, target.surface.query)
    if method == "POST":
        baseline = target.surface.baseline
        if baseline and draw.number(0, 1):
            attempt.path = target.path(index=0)  # the object the form was read from
            attempt.form = _spoilt(draw, target, baseline)
        else:
            attempt.form = _pairs(draw, target, target.surface.form)
        attempt.csrf = not _rare(draw)
    if draw.number(0, 2) == 0:
        attempt.headers["HX-Request"] = "true"
        attempt.headers["HX-Target"] = draw.pick((*target.partials, *HTMX_TARGETS_EXTRA))
    if _rare(draw):
        attempt.query.append((draw.text(10) or "x", draw.pick(HOSTILE)))
    return attempt


def _rare(draw: Draw) -> bool:
    return draw.number(0, 9) == 0


def _pairs(draw: Draw, target: Target, keys: set[str]) -> list[tuple]:
    pairs: list[tuple[str, str | bytes]] = []
    for key in sorted(keys):
        good = target.good.get(key, [])
        how = draw.pick(("skip", "good", "hostile", "hostile", "repeated"))
        if how == "skip":
            continue
        if how == "good" and good:
            pairs.append((key, draw.pick(good)))
        elif how == "repeated":
            pairs += [(key, hostile_value(draw, good)) for _ in range(draw.number(2, 3))]
        else:
            pairs.append((key, hostile_value(draw, good)))
    return pairs


def _spoilt(draw: Draw, target: Target, baseline: dict[str, list[str]]) -> list[tuple]:
    """The form as its page offers it, one or two fields given a value of their kind,
    a hostile one, or another the page offers."""
    keys = sorted(baseline)
    spoilt = {draw.pick(keys) for _ in range(draw.number(1, 2))}
    pairs = [(k, v) for k in keys if k not in spoilt for v in baseline[k]]
    for key in sorted(spoilt):
        kind = kind_of(baseline[key][0]) if baseline[key] else ""
        good = target.good.get(key, [])
        typed = good if kind == "url" else TYPED.get(kind, ())
        how = draw.pick(("typed", "hostile", "good"))
        if how == "typed" and typed:
            pairs.append((key, draw.pick(typed)))
        elif how == "good" and good:
            pairs.append((key, draw.pick(good)))
        else:
            pairs.append((key, hostile_value(draw, good)))
    return pairs


def sweep(target: Target) -> list[Attempt]:
    """Every swept hostile value in every parameter, deterministically: the i-th request
    gives parameter j the value SWEPT[(i + j) % n], GET (every other one as htmx) and
    POST; then the page's own form, valid but for one field given SWEPT[i] (the field
    rotating). The branching keys (QUERY TYPE) keep valid values, so every type's fields
    are reached. As an administrator, then bogus path values; each other role, and each
    page of Django's own admin, is sent one GET and one POST of hostile values."""
    attempts = []
    open_to_all = "administrator" not in target.surface.closed_to
    for role in ROLES:
        swept = role == ROLES[-1] and open_to_all and not target.route.django_admin
        for method, keys in (("GET", target.surface.query), ("POST", target.surface.form)):
            forms: list[dict] = [{}]
            if method == "POST" and swept and target.surface.baseline:
                forms.append(target.surface.baseline)  # read from the first object's page
            for baseline in forms:
                for i in range(_sweep_length(keys) if swept else 1):
                    where = target.path(index=0 if baseline else i)
                    attempt = Attempt(target.route, role, method, where)
                    attempt.query = _swept(target, target.surface.query, i, {})
                    if i % 2:  # the page's htmx fragment answers too
                        attempt.headers = {"HX-Request": "true", "HX-Target": _partial(target, i)}
                    if method == "POST":
                        attempt.form = _swept(target, keys, i, baseline)
                    attempts.append(attempt)
    attempts += _typed(target)
    bogus = {p: fake for p, (_, fake) in target.path_values.items()}
    for i in range(max((len(v) for v in bogus.values()), default=0)):
        values = {p: fake[i % len(fake)] for p, fake in bogus.items()}
        attempts.append(Attempt(target.route, ROLES[-1], "GET", target.route.path(values)))
    return attempts


def _typed(target: Target) -> list[Attempt]:
    """The page's own form, valid, with one field at a time given values of its kind: a
    date at the calendar's ends, a number out of range, another base URL (the key must
    not follow it), as an administrator on the object the form was read from."""
    attempts = []
    baseline = target.surface.baseline
    if target.route.django_admin or not baseline or "administrator" in target.surface.closed_to:
        return []
    for key, current in sorted(baseline.items()):
        kind = kind_of(current[0]) if current else ""
        values = target.good.get(key, []) if kind == "url" else TYPED.get(kind, ())
        for value in values:
            attempt = Attempt(target.route, ROLES[-1], "POST", target.path(index=0))
            others = [(k, v) for k, vs in sorted(baseline.items()) if k != key for v in vs]
            attempt.form = [*others, (key, value)]
            attempts.append(attempt)
    return attempts


def _sweep_length(keys: set[str]) -> int:
    """All the listed values, or each value of the branching keys when they are all."""
    if not keys:
        return 1
    if keys <= set(BRANCHES):
        return max(len(BRANCHES[k]) for k in keys)
    return len(SWEPT)


def _partial(target: Target, i: int) -> str:
    return target.partials[i % len(target.partials)] if target.partials else ""


def _swept(target: Target, keys: set[str], i: int, baseline: dict) -> list[tuple]:
    ordered = sorted(keys | set(baseline))
    if baseline:  # one field spoilt, the others as the page offers them
        spoilt = ordered[i % len(ordered)]
        pairs = [(k, v) for k in ordered if k != spoilt for v in baseline.get(k, [])]
        return [*pairs, (spoilt, SWEPT[i % len(SWEPT)])]
    pairs = []
    for j, key in enumerate(ordered):
        if key in BRANCHES and i % 7:
            choices = target.good.get(key) or list(BRANCHES[key])
            pairs.append((key, choices[i % len(choices)]))
        else:
            pairs.append((key, SWEPT[(i + j) % len(SWEPT)]))
    return pairs
