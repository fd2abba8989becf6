"""The data pages' URL parameters, checked before any query reads them.

Every value a page reads from its URL is bounded here or next to its parser: text is cut
to a length and may not hold a NUL (Postgres text cannot), dates lie between the Unix
epoch and the last year whose next day Python can still name, numbers are positive and
fit a bigint. A page shows what it could not use next to its filters and goes on without
it; an export refuses the whole request with `bad_request` before its first byte.
"""

from __future__ import annotations

import re
from datetime import date

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

NUL = "\x00"
# OpenAI's times count from the Unix epoch; a range's end is the day after its last day,
# so its last day must have a day after it.
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(9998, 12, 31)
LARGEST_ID = 2**63 - 1  # a bigint


def echo(text: str, limit: int = 20) -> str:
    """A value quoted back in a message: cut short, control characters shown as �."""
    return "".join("\ufffd" if ord(c) < 32 or ord(c) == 127 else c for c in text[:limit])


def text(params, name: str, limit: int, problems: list[str], label: str) -> str:
    """The parameter's text, stripped and cut to `limit`; "" (and a problem) if it holds
    a NUL, which no stored value can."""
    value = (params.get(name) or "").strip()[:limit]
    if NUL in value:
        problems.append(f"The {label} holds a NUL character, which no value has; it was ignored.")
        return ""
    if not unicode(value):
        problems.append(f"The {label} holds text that is not Unicode; it was ignored.")
        return ""
    return value


def unicode(value: str) -> bool:
    """Whether `value` can be written as UTF-8, as anything stored is (a lone surrogate,
    which a JSON \\ud800 escape makes, cannot)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def day(value: str, problems: list[str]) -> date | None:
    """A YYYY-MM-DD date between FIRST_DAY and LAST_DAY; None (and a problem) otherwise."""
    try:
        found = date.fromisoformat(value[:10])
    except ValueError:
        problems.append(f"“{echo(value)}” is not a date (YYYY-MM-DD); it was ignored.")
        return None
    if not FIRST_DAY <= found <= LAST_DAY:
        problems.append(
            f"{found.isoformat()} is out of range ({FIRST_DAY} to {LAST_DAY}); it was ignored."
        )
        return None
    return found


def positive_int(value: str) -> int | None:
    """A whole number from 1 to LARGEST_ID, else None."""
    value = value.strip()
    if not (value.isascii() and value.isdigit()) or len(value) > 19:  # no sign, no "1_000"
        return None
    number = int(value)
    return number if 1 <= number <= LARGEST_ID else None


def bad_request(request: HttpRequest, lead: str, problems: list[str], back: str) -> HttpResponse:
    """A 400 page saying, in words, what in the address could not be used: `lead`, the
    problems, and a link `back` where they can be changed."""
    context = {"lead": lead, "problems": problems, "back": back}
    return render(request, "400.html", context, status=400)


# What a page says it did instead ("…; it was ignored."), which an export did not do.
INSTEAD = re.compile(r"; (it was ignored|the range was ignored|showing [^;]*|sorted by [^;]*)\.$")


def refused(problem: str) -> str:
    """A page's problem as an export refusing the request says it."""
    return INSTEAD.sub(".", problem)
