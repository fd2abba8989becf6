"""The values hostile requests are made of, and the two ways they are drawn: Hypothesis
in the suite (`HypothesisDraw`), a seeded `random.Random` in bench/fuzz.py
(`RandomDraw`), so both send the same kinds of value."""

from __future__ import annotations

import base64
import json
import random
import re
from collections.abc import Sequence
from datetime import date
from typing import Protocol, TypeVar

from hypothesis import strategies as st

T = TypeVar("T")


def _b64(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


# Values chosen to break parsers, queries, templates and exports.
HOSTILE: tuple[str | bytes, ...] = (
    "",
    " ",
    "\x00",
    "a\x00b",
    "x" * 20_000,
    "9" * 400,
    "\u200b",
    "proj_\u200babc",
    "\u202eevil\u202c",
    "\ufeff2026-01-01",
    "Ω≈ç√∫˜µ≤≥÷ 東京 🚀",
    b"\xff\xfe\xfd",
    b"%\xc3\x28",
    "-1",
    "0",
    "-0",
    "1e309",
    "NaN",
    "Infinity",
    "2147483648",
    "9223372036854775808",
    "-9223372036854775809",
    "1" * 40,
    "0x10",
    "1.5",
    "0001-01-01",
    "9999-12-31",
    "9999-12-31T23:59",
    "9999-12-31T23:59-01:00",
    "0001-01-01T00:00+14:00",
    "0000-00-00",
    "2026-02-30",
    "1969-12-31T23:59:59Z",
    "+275760-09-13",
    "9999-12",
    "0001-01",
    "W3RydWUsIDFd",
    _b64([None, None]),
    _b64({"a": 1}),
    _b64(["9999-12-31T23:59:59+00:00", 2**70]),
    _b64([[1, 2, 3], "x"]),
    "e30=",
    "!!!!",
    '=HYPERLINK("http://evil.example/","click")',
    "=cmd|' /C calc'!A0",
    "+1+1",
    "@SUM(1+1)",
    "' OR 1=1 --",
    "'; DROP TABLE connectors_connector; --",
    '" OR ""="',
    "%",
    "_",
    "\\",
    "<script>alert(1)</script>",
    "{{ 7|add:7 }}{% debug %}",
    "${jndi:ldap://127.0.0.1:1/x}",
    "true",
    "null",
    "[]",
    '{"a": [1, {"b": null}]}',
    "\r\nX-Injected: 1",
    "../../../etc/passwd",
    "file:///etc/passwd",
    "javascript:alert(1)",
)
# The sweep's share: each kind above once or twice (their near repeats are left to the
# random requests), each value sent to every parameter.
_NOT_SWEPT = {
    " ",
    "proj_\u200babc",
    "\ufeff2026-01-01",
    b"%\xc3\x28",
    "0",
    "-0",
    "1e309",
    "Infinity",
    "2147483648",
    "-9223372036854775809",
    "0x10",
    "1.5",
    "0000-00-00",
    "+275760-09-13",
    "0001-01",
    _b64({"a": 1}),
    _b64([[1, 2, 3], "x"]),
    "!!!!",
    "=cmd|' /C calc'!A0",
    "+1+1",
    "'; DROP TABLE connectors_connector; --",
    "_",
    "${jndi:ldap://127.0.0.1:1/x}",
    "true",
    "null",
    "../../../etc/passwd",
    "javascript:alert(1)",
    '" OR ""="',
    _b64([None, None]),
    "e30=",
    "@SUM(1+1)",
    "\\",
    "[]",
    "9999-12",
}
SWEPT: tuple[str | bytes, ...] = tuple(v for v in HOSTILE if v not in _NOT_SWEPT)
JSON_JUNK = (None, True, [], {}, [True, 1], ["x"], [1, 2, 3, 4], "", 2**70, -1, 1.5, [[]])
DATE_SUFFIXES = ("", "T23:59", "T00:00:00Z", "T23:59-01:00", "T23:59:59+14:00", " 25:61")
HTMX_TARGETS_EXTRA = ("", "nope", "\x00")


class Draw(Protocol):
    def pick(self, options: Sequence[T]) -> T: ...
    def number(self, low: int, high: int) -> int: ...
    def text(self, max_size: int) -> str: ...
    def day(self) -> date: ...


class HypothesisDraw:
    def __init__(self, data: st.DataObject) -> None:
        self.data = data

    def pick(self, options: Sequence[T]) -> T:
        return self.data.draw(st.sampled_from(options))

    def number(self, low: int, high: int) -> int:
        return self.data.draw(st.integers(low, high))

    def text(self, max_size: int) -> str:
        return self.data.draw(st.text(max_size=max_size))

    def day(self) -> date:
        return self.data.draw(st.dates())


# Random text: printable ASCII, Latin-1, format and direction controls, CJK, emoji.
_RANGES = ((0x20, 0x7E), (0x00, 0x1F), (0xA0, 0xFF), (0x200B, 0x202E), (0x4E00, 0x4E80))
_RANGES += ((0x1F600, 0x1F64F), (0xFFF0, 0xFFFD))


class RandomDraw:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def pick(self, options: Sequence[T]) -> T:
        return self.rng.choice(options)

    def number(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)

    def text(self, max_size: int) -> str:
        size = self.rng.randint(0, max_size)
        return "".join(chr(self.rng.randint(*self.rng.choice(_RANGES))) for _ in range(size))

    def day(self) -> date:
        return date.fromordinal(self.rng.randint(1, date.max.toordinal()))


def hostile_value(draw: Draw, good: Sequence[str]) -> str | bytes:
    """One value: a listed hostile one, random text, a number, a date (calendar ends
    included), a cursor of JSON junk, or a valid value with something hostile added."""
    kind = draw.pick(("listed", "listed", "text", "number", "date", "cursor", "spoilt"))
    if kind == "listed":
        return draw.pick(HOSTILE)
    if kind == "text":
        return draw.text(40)
    if kind == "number":
        return str(draw.number(-(2**70), 2**70))
    if kind == "date":
        return draw.day().isoformat() + draw.pick(DATE_SUFFIXES)
    if kind == "cursor":
        return _b64([draw.pick(JSON_JUNK), draw.pick(JSON_JUNK)])
    base = draw.pick(good) if good else "x"
    spoilt = draw.pick(("\x00", "\u200b", "\u202e", " " * 3, "'", "9" * 30, "\n="))
    return base + spoilt if draw.number(0, 1) else spoilt + base


# What a field's current value looks like → the values to put in its place, the rest of
# the form left valid: a saved form must not store what its pages cannot show.
TYPED = {
    "time": (
        "0001-01-01",
        "0001-01-01T00:00",
        "0001-01-01T00:00+14:00",
        "9999-12-31",
        "9999-12-31T23:59",
        "9999-12-31T23:59-01:00",
        "2026-02-30",
        "1969-12-31",
    ),
    "number": ("0", "-1", "2147483648", "9223372036854775808", "1e3", "NaN"),
}


def kind_of(value: str) -> str:
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}([T ][\d:]+)?.*", value):
        return "time"
    if re.fullmatch(r"-?\d+", value):
        return "number"
    if re.match(r"https?://", value):
        return "url"
    return ""
