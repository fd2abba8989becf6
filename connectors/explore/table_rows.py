"""A table page's body rows and totals as the template shows them: each cell's text,
its hover text and its badge, ready for `table_detail.html` to write."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal

from django.utils import timezone

from connectors.explore.names import Name
from connectors.openai.streams import COLUMNS, UsageStream


def shown(
    stream: UsageStream,
    columns: list[dict],
    rows: Iterable,
    names: dict,
    missing: dict[str, str],
    tasks: dict[int, str] | None = None,
) -> list[dict]:
    """Each of `rows` as {"provisional", "start", "end", "cells"}: times in the current
    time zone (UTC days for tables of daily buckets), names from `names` with the raw id
    on hover; an id missing from the directory gets the state `missing` holds for its
    column ("deleted" for API keys, see `names.missing_states`)."""
    zone = UTC if stream.floor_to_day else timezone.get_current_timezone()
    shape = "%Y-%m-%d" if stream.floor_to_day else "%Y-%m-%d %H:%M"
    cells = [_cell_reader(column, names, missing, tasks or {}) for column in columns[2:]]
    found = []
    for row in rows:
        if utc_day(row):  # a 1d bucket is a UTC day: its date, not 01:00 in Berlin
            start, end = _time(row.start_time, UTC, DAY), _time(row.end_time, UTC, DAY)
        else:
            start, end = _time(row.start_time, zone, shape), _time(row.end_time, zone, shape)
        found.append(
            {
                "provisional": row.provisional,
                "start": start,
                "end": end,
                "cells": [read(row) for read in cells],
            }
        )
    return found


def _cell(text: str, title: str = "", num: bool = False, id: str = "", state: str = "") -> dict:
    """One `<td>`: its text, its hover text, whether it is a number; a name's id (shown on
    hover) and state (a badge). Every key is set: a template looks up a missing one slowly."""
    return {"text": text, "title": title, "num": num, "id": id, "state": state}


DAY = "%Y-%m-%d"


def utc_day(row) -> bool:
    """Whether a row is a bucket of one whole UTC day."""
    start = row.start_time.astimezone(UTC)
    return row.end_time - row.start_time == timedelta(days=1) and not (
        start.hour or start.minute or start.second
    )


def _time(value: datetime, zone: tzinfo, shape: str) -> str:
    return value.astimezone(zone).strftime(shape)


def _cell_reader(column: dict, names: dict, missing: dict[str, str], tasks: dict[int, str]):
    """A function reading one column's cell (`_cell`) of a row."""
    name = column["column"]
    if column["kind"] == "task":  # the task whose rows answer this row's day
        return lambda row: _cell(tasks.get(row.task_id, str(row.task_id)))
    if column["kind"] == "metric":
        return lambda row: number_cell(name, getattr(row, name))
    if column["kind"] != "name":
        return lambda row: _cell(plain(getattr(row, name)))
    known, state = names.get(name, {}), missing.get(name, "")
    return lambda row: _named_cell(getattr(row, name), known, state)


def _named_cell(value: str | None, known: dict, missing: str) -> dict:
    if not value:
        return _cell("")
    found = known.get(value) or (Name(value, missing) if missing else None)
    text = found.text if found and found.text else value
    return _cell(text, id=value, state=found.state if found else "")


# The metric columns counted in US dollars: written with `$` and cents.
MONEY = tuple(c for c, f in COLUMNS.items() if f.unit == "USD")


def human(column: str, value) -> str:
    """A number for people: thousands separators; money as `$` with cents. Text and
    empty values as `plain` writes them."""
    if value is None or isinstance(value, bool | str):
        return plain(value)
    if column in MONEY:
        cents = Decimal(str(value)).quantize(Decimal("0.01"))
        if not cents and value:
            return "<$0.01" if value > 0 else "-<$0.01"
        return f"-${-cents:,}" if cents < 0 else f"${cents:,}"
    if isinstance(value, int):
        return f"{value:,}"
    digits = format(Decimal(str(value)) if isinstance(value, float) else value, ",f")
    if "." in digits:
        digits = digits.rstrip("0").rstrip(".")
    return digits


def number_cell(column: str, value) -> dict:
    """A metric's cell: the number for people, the exact value on hover where they differ."""
    text, exact = human(column, value), plain(value)
    return _cell(text, title=exact if text.replace(",", "") != exact else "", num=True)


def total_cells(stream: UsageStream, totals: dict) -> list[dict]:
    """The totals row's metric cells, each with its unit where the rows have one; a total
    over rows of different units is left blank and says why (`why`)."""
    cells = []
    for f in stream.metrics:
        units = totals.get(f"{f.column}_units")
        if units and len(units) > 1:
            why = f"No total: these rows count {', '.join(units)}. Filter by one line item."
            cells.append(_cell("", num=True) | {"unit": "", "why": why})
            continue
        cell = number_cell(f.column, totals.get(f.column))
        cells.append(cell | {"unit": units[0] if units else "", "why": ""})
    return cells


def plain(value) -> str:
    """A value as the CSV and the table show it: numbers without exponent or trailing
    zeros, booleans as JSON has them."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return _digits(value)
    return str(value)


def _digits(value: Decimal) -> str:
    """A decimal's exact digits without exponent or trailing zeros (`normalize` would
    round it to 28 significant digits; a column holds up to 38)."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text
