"""A table page's body rows as HTML, built in Python.

A page is 50 rows of about 20 columns: a thousand cells. Kept in Python because a user
waits for it: a template loop over the same cells made every table page 15-21 ms slower
(the rows alone 32 -> 50 ms p50; `bench/ab.py`, README "Benchmarks"). The template keeps
everything else on the page (filters, header, totals, pager).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from html import escape  # django.utils.html.escape without its lazy-string wrapper

from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from connectors.explore.names import Name
from connectors.openai.streams import COLUMNS, UsageStream

PROVISIONAL = (
    ' <span class="badge warn" title="OpenAI may still revise this bucket">provisional</span>'
)


def body(
    stream: UsageStream,
    columns: list[dict],
    rows: Iterable,
    names: dict,
    missing: dict[str, str],
    tasks: dict[int, str] | None = None,
) -> SafeString:
    """The `<tr>`s of `rows`, each on its own lines: times in the current time zone
    (UTC days for tables of daily buckets), names from `names` with the raw id on
    hover, provisional rows marked; an id missing from the directory gets the state
    `missing` holds for its column ("deleted" for API keys, see `names.missing_states`)."""
    zone = UTC if stream.floor_to_day else timezone.get_current_timezone()
    shape = "%Y-%m-%d" if stream.floor_to_day else "%Y-%m-%d %H:%M"
    cells = [_cell_writer(column, names, missing, tasks or {}) for column in columns[2:]]
    lines = []
    for row in rows:
        if utc_day(row):  # a 1d bucket is a UTC day: its date, not 01:00 in Berlin
            start, end = _time(row.start_time, UTC, DAY), _time(row.end_time, UTC, DAY)
        else:
            start, end = _time(row.start_time, zone, shape), _time(row.end_time, zone, shape)
        badge = PROVISIONAL if row.provisional else ""
        lines.append(f'<tr class="{"provisional" if row.provisional else ""}">')
        lines.append(
            f'<td class="time start">{start}{badge}</td><td class="time">{end}</td>'
            + "".join(write(row) for write in cells)
            + "</tr>"
        )
    return mark_safe("\n".join(lines))  # noqa: S308 - every value above is escaped


DAY = "%Y-%m-%d"


def utc_day(row) -> bool:
    """Whether a row is a bucket of one whole UTC day."""
    start = row.start_time.astimezone(UTC)
    return row.end_time - row.start_time == timedelta(days=1) and not (
        start.hour or start.minute or start.second
    )


def _time(value: datetime, zone: tzinfo, shape: str) -> str:
    return value.astimezone(zone).strftime(shape)


def _cell_writer(column: dict, names: dict, missing: dict[str, str], tasks: dict[int, str]):
    """A function writing one column's `<td>` for a row."""
    name = column["column"]
    if column["kind"] == "task":  # the task whose rows answer this row's day
        return lambda row: f"<td>{escape(tasks.get(row.task_id, str(row.task_id)))}</td>"
    if column["kind"] == "metric":
        return lambda row: number_cell(name, getattr(row, name))
    if column["kind"] != "name":
        return lambda row: f"<td>{escape(plain(getattr(row, name)))}</td>"
    known, state = names.get(name, {}), missing.get(name, "")
    return lambda row: _named_cell(getattr(row, name), known, state)


def _named_cell(value: str | None, known: dict, missing: str) -> str:
    if not value:
        return "<td></td>"
    found = known.get(value) or (Name(value, missing) if missing else None)
    shown = escape(found.text if found and found.text else value)
    cell = f'<td><span title="{escape(value)}">{shown}</span>'
    if found and found.state:
        cell += f' <span class="badge">{escape(found.state)}</span>'
    return cell + "</td>"


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


def number_cell(column: str, value) -> str:
    """A metric's `<td>`: the number for people, the exact value on hover where they differ."""
    shown, exact = human(column, value), plain(value)
    title = f' title="{escape(exact)}"' if shown.replace(",", "") != exact else ""
    return f'<td class="num"{title}>{escape(shown)}</td>'


def total_cells(stream: UsageStream, totals: dict) -> SafeString:
    """The totals row's metric `<td>`s; a total over rows of different units is left
    blank and says why."""
    cells = []
    for f in stream.metrics:
        units = totals.get(f"{f.column}_units")
        if units and len(units) > 1:
            why = f"No total: these rows count {', '.join(units)}. Filter by one line item."
            cells.append(
                f'<td class="num"><span class="blank-why" title="{escape(why)}">'
                f"mixed units</span></td>"
            )
            continue
        cell = number_cell(f.column, totals.get(f.column))
        if units:
            cell = cell[:-5] + f' <span class="unit">{escape(units[0])}</span></td>'
        cells.append(cell)
    return mark_safe("".join(cells))  # noqa: S308 - every value above is escaped


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
