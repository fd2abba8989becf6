"""Chart data for the table pages (and, in `overview`, the connector overview): aggregates,
never rows.

Every selector takes a filtered QuerySet (`datatables.filtered`), so a chart shows exactly
the rows the table lists, and answers with a few GROUP BY queries returning plain lists
and dicts. Times are truncated in SQL (UTC) to a grain that keeps each series under
MAX_POINTS points. Each day's rows come from the one task the planner picks for the
chart's grouping (`datatables.answer`), so tasks that overlap never count twice. Sums at
day grain come from the smallest rollup able to answer them (`datatables.summed`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import (
    BigIntegerField,
    Count,
    F,
    IntegerField,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import Cast, Coalesce, Trunc
from django.utils import timezone

from connectors.explore import datatables
from connectors.explore.names import NAMED, names_of
from connectors.explore.planner import midnight
from connectors.explore.sums import Total
from connectors.models import Connector
from connectors.openai.streams import COLUMNS, WIDTH_SECONDS, UsageStream

TOP = 10
STACKED = 8  # series drawn in a stacked chart; the others are summed as "Other"
MAX_POINTS = 400
GRAINS = (("minute", 60), ("hour", 3600), ("day", 86400))
REQUESTS = "numModelRequests"
NONE_LABEL = "(none)"


def column_label(column: str) -> str:
    """A column in words, as the charts name it: the registry's label."""
    return COLUMNS[column].label


def metric_label(metrics: tuple[str, ...]) -> str:
    if metrics == ("inputTokens", "outputTokens"):
        return "tokens (input + output)"
    return " + ".join(column_label(m) for m in metrics)


# --- one bucket width, and the grain of the time axis ---------------------------------


# The rollup rows answering the filters grouped by a column (or not grouped), or None.
Summed = Callable[[str | None], QuerySet | None]


@dataclass
class Buckets:
    """The rows answering a chart's question, and the time grain their charts use."""

    planned: Callable[[str | None], QuerySet]  # the rows answering a grouping by `by`
    rollup: Summed  # the rollup rows answering it, None for a table without rollups
    width: str  # the widest bucket width among the answering rows
    grain: str
    step: int  # seconds per point of the time axis

    @property
    def rows(self) -> QuerySet:
        return self.planned(None)

    def rolled_up(self, by: str | None = None) -> QuerySet | None:
        """The rollup rows holding the sums per day grouped by `by`; None without one."""
        return self.rollup(by)

    def rows_by(self, by: str | None = None) -> QuerySet:
        """The rows answering a question grouped by `by` (each day from one task)."""
        return self.planned(by)

    def summed(self, by: str | None = None) -> QuerySet:
        """The fewest rows holding the same sums grouped by `by`: a rollup where the
        table has one, else the rows themselves."""
        rows = self.rolled_up(by)
        return self.rows_by(by) if rows is None else rows


def query_buckets(connector: Connector, query: datatables.TableQuery) -> Buckets | None:
    """The chart rows of a table query (for each grouping, the rows of the tasks that
    answer it, summed from the smallest rollup that can) and the finest time grain that
    draws them: no finer than the widest bucket among them (a 1d bucket has no hours),
    at most MAX_POINTS points. None when no task answers."""
    answer = datatables.answer(connector, query)
    if not answer.answered:
        return None
    width = max(answer.widths(), key=WIDTH_SECONDS.__getitem__)
    seconds = (answer.last - answer.first).days * 86400 + 86400
    grain, step = next(
        ((g, s) for g, s in GRAINS if s >= WIDTH_SECONDS[width] and seconds / s <= MAX_POINTS),
        GRAINS[-1],
    )
    return Buckets(
        partial(datatables.filtered, connector, query, False),
        partial(datatables.summed, connector, query),
        width,
        grain,
        step,
    )


# --- series over time and top lists ---------------------------------------------------


def over_time(
    connector: Connector, found: Buckets, metrics: tuple[str, ...], by: str | None
) -> dict[str, Any]:
    """Sums per time slot: one series per value of `by` (the largest STACKED, then
    "Other"), or one series per metric when `by` is None. `provisional` flags the slots
    holding a bucket OpenAI may still revise."""
    return over_times(connector, found, [metrics], by)[0]


def over_times(
    connector: Connector, found: Buckets, charts: list[tuple[str, ...]], by: str | None
) -> list[dict[str, Any]]:
    """`over_time` of each of `charts` (a tuple of metrics each), from one query: charts
    over the same rows grouped the same way share their groups and time slots."""
    # Stacked by a column: one sum of each chart's metrics per group, added in SQL.
    sums = {}
    for c, metrics in enumerate(charts):
        if by:
            these = {f"c{c}": _total(metrics)}
        else:
            these = {f"c{c}m{i}": Total(m) for i, m in enumerate(metrics)}
        if _integers(found.rows.model, metrics):
            these = {name: _bigint(total) for name, total in these.items()}
        sums |= these
    keys = ("slot", by) if by else ("slot",)
    daily = found.rolled_up(by) if found.grain == "day" else None
    if daily is not None:
        grouped = daily.order_by().annotate(slot=F("day")).values(*keys)
        grouped = grouped.annotate(n_provisional=_bigint(Sum("provisional_rows")), **sums)
    else:
        slot = Trunc("start_time", found.grain, tzinfo=UTC)
        grouped = found.rows_by(by).order_by().annotate(slot=slot).values(*keys)
        grouped = grouped.annotate(n_provisional=Count("id", filter=Q(provisional=True)), **sums)
    rows = fetched(grouped.order_by("slot"), [*keys, "n_provisional", *sums])
    at = {slot: i for i, slot in enumerate(dict.fromkeys(row[0] for row in rows))}
    provisional = [False] * len(at)
    for row in rows:
        if row[len(keys)]:
            provisional[at[row[0]]] = True
    slots = [_aware(s) if isinstance(s, datetime) else midnight(s) for s in at]
    # Days are UTC days; hours and minutes are shown in the user's zone, named on hover.
    zone = UTC if found.grain == "day" else timezone.get_current_timezone()
    axis = {
        "x": [s.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") for s in slots],
        "zone": str(zone),
        "step": found.step,
        "grain": found.grain,
        "provisional": provisional,
    }
    first = len(keys) + 1  # the index of the first sum in a row
    found_series = []
    for metrics in charts:
        width = 1 if by else len(metrics)
        sums_of = [row[first : first + width] for row in rows]
        first += width
        if by:
            series = _stacked(connector, by, _by_key(rows, sums_of, at))
        else:
            series = _by_metric(metrics, rows, sums_of, at)
        found_series.append(axis | {"series": series})
    return found_series


def fetched(rows: QuerySet, names: list[str]) -> list[tuple]:
    """`rows.values_list(*names)`, read on Postgres straight from the cursor. The driver
    already gives int, Decimal, str, date and datetime; the ORM would pass every value
    of every row through its converters again, which for the 11,000 grouped rows of a
    year's series took as long as the query. Elsewhere (SQLite keeps dates as text,
    decimals as floats), the ORM reads them. Kept because a user waits for it: read by
    the ORM, the all-time charts and table page took 12-15 ms longer (`bench/ab.py`)."""
    rows = rows.values_list(*names)
    selected = list(rows.query.selected or ())  # the SQL's columns, in their order
    postgres = rows.db == "default" and connection.vendor == "postgresql"
    if not postgres or selected != names:
        return list(rows)
    try:
        sql, params = rows.query.sql_with_params()
    except EmptyResultSet:
        return []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _aware(slot: datetime) -> datetime:
    """A time slot truncated in UTC: read from the cursor it carries no zone yet."""
    return slot if slot.tzinfo else slot.replace(tzinfo=UTC)


def _by_key(rows: list[tuple], sums_of: list[tuple], at: dict) -> dict[Any, list]:
    """{value of the grouping column: its sum in each time slot}."""
    values: dict[Any, list] = defaultdict(lambda: [0] * len(at))
    for (slot, key, *_), (value,) in zip(rows, sums_of, strict=True):
        cells = values[key]  # a key with only zero sums still has a series
        if value:
            cells[at[slot]] += value
    return values


def _by_metric(metrics: tuple[str, ...], rows: list[tuple], sums_of: list[tuple], at: dict):
    """One series per metric: its sum in each time slot."""
    values = {m: [0] * len(at) for m in metrics}
    columns = [values[m] for m in metrics]
    for row, sums in zip(rows, sums_of, strict=True):
        i = at[row[0]]
        for column, value in zip(columns, sums, strict=True):
            if value:
                column[i] += value
    return [{"key": m, "name": column_label(m), "y": values[m]} for m in metrics]


def _stacked(connector: Connector, by: str, values: dict[Any, list]) -> list[dict]:
    """The largest STACKED series by total, then the rest summed as one "Other"."""
    ranked = sorted(values, key=lambda k: (-sum(values[k]), k is None, str(k)))
    shown, rest = ranked[:STACKED], ranked[STACKED:]
    titles = labels(connector, by, shown)
    series = [{"key": k, "name": titles[k], "y": values[k]} for k in shown]
    if rest:
        other = [sum(slot) for slot in zip(*(values[k] for k in rest), strict=True)]
        series.append({"key": None, "name": f"Other ({len(rest)})", "y": other})
    return series


def _integers(model, metrics: tuple[str, ...]) -> bool:
    return all(isinstance(model._meta.get_field(m), IntegerField) for m in metrics)


def _bigint(total: Sum) -> Cast:
    """A sum of integers as an integer: Postgres sums bigints as numeric, which the
    driver reads as Decimal and the ORM turns back into int, value by value."""
    return Cast(total, BigIntegerField())


def _total(metrics: tuple[str, ...]):
    if len(metrics) == 1:
        return Total(metrics[0])
    expression = Coalesce(F(metrics[0]), Value(0))
    for metric in metrics[1:]:
        expression = expression + Coalesce(F(metric), Value(0))
    return Total(expression)


def top(
    connector: Connector, rows: QuerySet, column: str, metrics: tuple[str, ...], limit: int = TOP
) -> list[dict]:
    """The `limit` values of a dimension with the largest sums (grouped, then LIMIT)."""
    grouped = rows.exclude(**{f"{column}__isnull": True}).order_by().values(column)
    total = _total(metrics)
    grouped = grouped.annotate(total=_bigint(total) if _integers(rows.model, metrics) else total)
    grouped = grouped.order_by(F("total").desc(nulls_last=True), column)[:limit]
    found = fetched(grouped, [column, "total"])
    titles = labels(connector, column, [key for key, _ in found])
    return [{"key": key, "name": titles[key], "value": total or 0} for key, total in found]


def none_label(column: str | None) -> str:
    """The name of the rows without a value of `column`: OpenAI sent none (usage outside
    any project, a cost line without a project), never an unlabelled bar."""
    return f"no {column_label(column)}" if column else NONE_LABEL


def labels(connector: Connector, column: str | None, keys: list) -> dict[Any, str]:
    """Display names: directory names for project, user and key ids, made unique."""
    if column not in NAMED:
        return {k: none_label(column) if k is None else str(k) for k in keys}
    known = names_of(connector, {column: {k for k in keys if k}})[column]
    result, seen = {}, set()
    for key in keys:
        name = known.get(key)
        text = none_label(column) if key is None else (name.label if name else key)
        if text in seen:  # two projects may share a name; a chart axis may not
            text = f"{text} · {key}"
        seen.add(text)
        result[key] = text
    return result


# --- a table page's charts ------------------------------------------------------------


def split_options(stream: UsageStream) -> dict[str, str]:
    """What the main chart can be stacked by: URL value → dimension column (or metrics)."""
    dims = {f.column for f in stream.dimensions}
    wanted = ("projectId", "lineItem") if stream.type == "costs" else ("model", "projectId")
    options = {COLUMNS[c].filter: c for c in wanted if c in dims}  # as its filter names it
    if len(stream.main_metrics) > 1:
        options["metric"] = ""
    return options


def page_charts(
    connector: Connector, stream: UsageStream, query: datatables.TableQuery, split: str = ""
) -> dict[str, Any]:
    """Every chart of a table page for its query (`table_charts` of the rows answering it)."""
    return table_charts(connector, stream, query_buckets(connector, query), split, query)


def table_charts(
    connector: Connector,
    stream: UsageStream,
    found: Buckets | None,
    split: str = "",
    query: datatables.TableQuery | None = None,
) -> dict[str, Any]:
    """Every chart of a table page for the filtered rows, as data for the template.

    The STACK BY menu offers only the groupings some task answers for these filters (a
    table collected without GROUP BY model has no stacking by model)."""
    options = split_options(stream)
    if query is not None and found is not None:
        options = {
            value: column
            for value, column in options.items()
            if not column or datatables.answer(connector, query, column).answered
        }
    split = split if split in options else next(iter(options), "")
    choices = [
        (value, column_label(column) if column else "input / output")
        for value, column in options.items()
    ]
    result = {"split": split, "split_choices": choices, "charts": []}
    if found is None:
        return result
    metrics, by = stream.main_metrics, options.get(split) or None
    label = metric_label(metrics)
    charts = [("chart-main", label, metrics, by)]
    dims = {f.column for f in stream.dimensions}
    if REQUESTS in {f.column for f in stream.metrics} and REQUESTS not in metrics:
        requests_by = by or ("model" if "model" in options.values() else None)
        charts.append(("chart-requests", "requests", (REQUESTS,), requests_by))
    charts = _over_time_charts(connector, found, charts)
    for column in ("projectId", "model", "userId", "lineItem"):
        if column in dims:
            items = top(connector, found.summed(column), column, metrics)
            title = f"Top {column_label(column)}s by {label}"
            charts.append(chart_spec(f"chart-top-{column}", title, "top", metrics, items=items))
    return result | {"charts": charts}


def _over_time_charts(connector, found: Buckets, wanted: list[tuple]) -> list[dict]:
    """The over-time charts (id, label, metrics, stacked by) as `chart_spec`s; charts
    stacked by the same column are read in one query (`over_times`)."""
    groupings: dict[str | None, list[tuple]] = defaultdict(list)
    for chart in wanted:
        groupings[chart[3]].append(chart)
    drawn = {}
    for by, charts in groupings.items():
        data = over_times(connector, found, [metrics for _, _, metrics, _ in charts], by)
        for (chart_id, label, metrics, _), found_data in zip(charts, data, strict=True):
            title = f"{label[0].upper()}{label[1:]} per {found.grain}"
            title += f" by {column_label(by)}" if by else ""
            drawn[chart_id] = chart_spec(chart_id, title, "stack", metrics, **found_data)
    return [drawn[chart_id] for chart_id, *_ in wanted]


def chart_spec(chart_id: str, title: str, kind: str, metrics: tuple[str, ...], **data) -> dict:
    """One chart as its template draws it: id, title, kind (stack or top), unit, data."""
    unit = "$" if all(COLUMNS[m].unit == "USD" for m in metrics) else ""
    return {"id": chart_id, "title": title, "kind": kind, "unit": unit, **data}
