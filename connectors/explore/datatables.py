"""Reading the collected tables: filters, sorting, keyset pages, totals and names.

Pages are keyset pages (the cursor is the last row's sort value and id), so a page deep
into ten million rows costs what the first one does. Every filter and sort is checked
against the stream's own columns: the URL can ask for nothing else.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, Q, QuerySet, Sum

from connectors.explore import metric_order, planner
from connectors.explore import params as checked
from connectors.explore.names import named_like
from connectors.explore.planner import midnight
from connectors.explore.sums import Total
from connectors.models import DAILY_BY_TABLES, DAILY_TABLES, USAGE_TABLES, Connector
from connectors.models.tables import NUMERIC, by_dimensions
from connectors.openai.streams import DIMENSIONS, STREAMS, UsageStream

PAGE_SIZE = 50
PRESETS = {
    "last7": "Last 7 days",
    "last30": "Last 30 days",
    "this_month": "This month",
    "last_month": "Last month",
    "all": "All time",
}
# URL parameter → the dimension column its text filter keeps (batch has its own choice).
DIMENSION_FILTERS = {
    f.filter: f.column for f in DIMENSIONS.values() if f.filter and f.type == "str"
}


def usage_streams() -> list[UsageStream]:
    return [s for s in STREAMS.values() if isinstance(s, UsageStream)]


def stream_for_table(table: str) -> UsageStream | None:
    return next((s for s in usage_streams() if s.table == table), None)


def preset_range(preset: str, today: date) -> tuple[datetime | None, datetime | None]:
    """[start, end) of a preset, in UTC days."""
    tomorrow = midnight(today + timedelta(days=1))
    first = today.replace(day=1)
    if preset == "last7":
        return tomorrow - timedelta(days=7), tomorrow
    if preset == "last30":
        return tomorrow - timedelta(days=30), tomorrow
    if preset == "this_month":
        return midnight(first), tomorrow
    if preset == "last_month":
        previous = (first - timedelta(days=1)).replace(day=1)
        return midnight(previous), midnight(first)
    return None, None


@dataclass
class TableQuery:
    """What the table page shows, parsed from its URL."""

    stream: UsageStream
    preset: str = "last30"
    start: datetime | None = None
    end: datetime | None = None
    dims: dict[str, str] = field(default_factory=dict)  # column → value
    batch: bool | None = None
    q: str = ""
    task_id: int | None = None
    sort: str = "-startTime"
    after: str = ""
    before: str = ""
    problems: list[str] = field(default_factory=list)
    unknown: bool = False  # a name filter matched nothing in the directory
    matches: dict[str, list[str]] | None = None  # `q` as the values it matches, once read
    datasets: list[planner.Dataset] | None = None  # the connector's, once read
    answers: dict[str | None, planner.Answer] = field(default_factory=dict)  # by grouping

    @property
    def sort_column(self) -> str:
        return self.sort.removeprefix("-")

    @property
    def descending(self) -> bool:
        return self.sort.startswith("-")


def sortable_columns(stream: UsageStream) -> list[str]:
    return ["startTime", "endTime", *[f.column for f in (*stream.dimensions, *stream.metrics)]]


def parse_query(stream: UsageStream, params, today: date) -> TableQuery:
    """Read the URL's filters; anything invalid is dropped and said in `problems`.

    Every value is bounded before a query sees it (see `params`): text cut short and
    without NUL, dates within the calendar the database and Python share, a task by a
    positive number, a sort by one of the stream's columns, a cursor only as this page
    writes it for that column."""
    query = TableQuery(stream=stream)
    problems = query.problems
    columns = {f.column for f in stream.dimensions}
    preset = checked.text(params, "preset", 20, problems, "time range")
    query.preset = preset or ("custom" if params.get("start") else "last30")
    query.start, query.end = preset_range(query.preset, today)
    if query.preset == "custom" or query.preset not in PRESETS:
        if query.preset != "custom":
            problems.append(
                f"“{checked.echo(preset)}” is not a time range; showing the dates given."
            )
        query.preset = "custom"
        query.start, query.end = _custom_range(params, problems)
    for name, column in DIMENSION_FILTERS.items():
        value = checked.text(params, name, 200, problems, f"{name.replace('_', ' ')} filter")
        if value and column in columns:
            query.dims[column] = value
    batch = params.get("batch") or ""
    if "batch" in columns and batch in ("true", "false"):
        query.batch = batch == "true"
    elif "batch" in columns and batch:
        problems.append("BATCH is true, false or both; showing both.")
    query.q = checked.text(params, "q", 100, problems, "search")
    task = (params.get("task") or "").strip()
    query.task_id = checked.positive_int(task)
    if task and query.task_id is None:
        problems.append(f"“{checked.echo(task)}” is not a task; showing the best task per day.")
    query.sort = _sort(stream, params.get("sort") or "", problems)
    kind = _kind(stream, query.sort_column)
    cursors = [params.get(name) or "" for name in ("after", "before")]
    if all(not c or _decode(c, kind) is not None for c in cursors):
        query.after, query.before = cursors
    else:
        problems.append("That page link is not valid here; showing the first page.")
    return query


def _sort(stream: UsageStream, sort: str, problems: list[str]) -> str:
    """`column` or `-column` (descending) of a sortable column; else by time, newest first."""
    column = sort.removeprefix("-")
    if column in sortable_columns(stream):
        return sort
    if sort:
        problems.append("That column cannot be sorted; sorted by startTime instead.")
    return "-startTime"


def _kind(stream: UsageStream, column: str) -> str:
    """The type of a sortable column's values: "time", or the stream field's type."""
    if column in ("startTime", "endTime"):
        return "time"
    return next(f.type for f in (*stream.dimensions, *stream.metrics) if f.column == column)


def _custom_range(params, problems: list[str]) -> tuple[datetime | None, datetime | None]:
    def day(name: str) -> datetime | None:
        text = (params.get(name) or "").strip()
        found = checked.day(text, problems) if text else None
        return midnight(found) if found else None

    start, end = day("start"), day("end")
    if end is not None:
        end += timedelta(days=1)  # the end day is included
    if start and end and end <= start:
        problems.append("The end date is before the start date; the range was ignored.")
        return None, None
    return start, end


def answer(connector: Connector, query: TableQuery, by: str | None = None) -> planner.Answer:
    """Which task answers each day of the query's range, grouped by `by` (see `planner`):
    the rows every figure of the page sums."""
    if by not in query.answers:
        if query.datasets is None:
            query.datasets = planner.datasets(connector, query.stream)
        query.answers[by] = planner.answer(question(connector, query, by), query.datasets)
    return query.answers[by]


def question(connector: Connector, query: TableQuery, by: str | None = None) -> planner.Question:
    equal: dict[str, Any] = dict(query.dims)
    if query.batch is not None:
        equal["batch"] = query.batch
    involved = set(equal) | ({by} if by else set())
    if query.q:
        involved |= set(text_matches(connector, query) or {})
    return planner.Question(
        query.stream,
        query.start.date() if query.start else None,
        query.end.date() if query.end else None,
        equal,
        frozenset(involved),
        query.task_id,
    )


def filtered(
    connector: Connector, query: TableQuery, daily: bool = False, by: str | None = None
) -> QuerySet:
    """The rows the filters select (not yet sorted or paged), of the tasks that answer
    each day (grouped by `by`); with `daily`, the rows of the table's daily rollup
    instead (ranges are whole UTC days, so both agree)."""
    model = (DAILY_TABLES if daily else USAGE_TABLES)[query.stream.type]
    rows = model.objects.filter(connector=connector)
    rows = rows.filter(answer(connector, query, by).where(daily))
    for column, value in query.dims.items():
        rows = rows.filter(**{column: value})
    if query.batch is not None:
        rows = rows.filter(batch=query.batch)
    if query.q:
        rows = rows.filter(_text_match(connector, query))
    return rows


def _in_range(rows: QuerySet, query: TableQuery, daily: bool) -> QuerySet:
    """The task and time range filters alone (every task's rows: only to find values)."""
    if query.task_id:
        rows = rows.filter(task_id=query.task_id)
    if query.start:
        rows = rows.filter(
            **({"day__gte": query.start.date()} if daily else {"start_time__gte": query.start})
        )
    if query.end:
        rows = rows.filter(
            **({"day__lt": query.end.date()} if daily else {"start_time__lt": query.end})
        )
    return rows


def _text_match(connector: Connector, query: TableQuery) -> Q:
    """Free text: any dimension containing it, or a project, user or key named like it.

    Where the table has rollups, the text is first turned into the values it matches
    (read from the per-dimension rollup, a few hundred rows a day), so the rows are
    filtered with `IN` lists that indexes and rollups can answer."""
    matches = text_matches(connector, query)
    if matches is None:
        return _text_scan(connector, query)
    match = Q(pk__in=[])
    for column, values in matches.items():
        match |= Q(**{f"{column}__in": values})
    return match


def _text_scan(connector: Connector, query: TableQuery) -> Q:
    """Free text on a table without rollups (costs): matched row by row."""
    columns = {f.column for f in query.stream.dimensions if f.type == "str"}
    match = Q()
    for column in columns:
        match |= Q(**{f"{column}__icontains": query.q})
    for column, ids in named_like(connector, query.q).items():
        if column in columns:
            match |= Q(**{f"{column}__in": ids})
    return match


def text_matches(connector: Connector, query: TableQuery) -> dict[str, list[str]] | None:
    """{column: the values in the filtered range that contain `q` or whose directory
    entry is named like it}, columns without a match left out; None without rollups."""
    if query.stream.type not in DAILY_BY_TABLES:
        return None
    if query.matches is None:
        columns = by_dimensions(query.stream)
        named = named_like(connector, query.q)
        wanted = Q(pk__in=[])
        for column in columns:
            like = Q(**{f"{column}__icontains": query.q})
            if column in named:
                like |= Q(**{f"{column}__in": named[column]})
            wanted |= Q(dimension=column) & like
        rows = DAILY_BY_TABLES[query.stream.type].objects.filter(connector=connector)
        found = _in_range(rows, query, daily=True).filter(wanted)
        query.matches = {}
        for dimension, *values in found.values_list("dimension", *columns).distinct():
            value = values[columns.index(dimension)]
            query.matches.setdefault(dimension, []).append(value)
    return query.matches


# --- pages --------------------------------------------------------------------------


def _encode(value: Any, pk: int) -> str:
    if isinstance(value, datetime):
        value = {"t": value.isoformat()}
    elif isinstance(value, Decimal):
        value = {"d": str(value)}
    raw = json.dumps([value, pk]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


CURSOR_LENGTH = 2000  # characters: a cursor holds one sort value (text up to 1,000)


def _decode(cursor: str, kind: str) -> tuple[Any, int] | None:
    """A cursor as `_encode` writes it for a column of `kind`: (its value, a row id).
    None for anything else: other JSON, other types, not base64, too long."""
    if len(cursor) > CURSOR_LENGTH:
        return None
    try:
        found = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, RecursionError):  # not base64, not UTF-8, not JSON, nested deep
        return None
    if not isinstance(found, list) or len(found) != 2:
        return None
    value, pk = found
    if type(pk) is not int or not 0 < pk <= checked.LARGEST_ID:
        return None
    value = _cursor_value(value, kind)
    return None if value is _INVALID else (value, pk)


_INVALID = object()


def _cursor_value(value: Any, kind: str) -> Any:
    """A cursor's sort value as the column holds it, or _INVALID."""
    if value is None:  # a row without a value in the sort column
        return None
    if kind == "time":
        return _cursor_time(value)
    if kind == "decimal":
        text = value.get("d") if isinstance(value, dict) else None
        try:
            number = Decimal(text) if isinstance(text, str) and len(text) <= 100 else None
        except ArithmeticError:  # decimal.InvalidOperation: not a number
            number = None
        usable = number is not None and number.is_finite() and abs(number.adjusted()) <= 40
        return number if usable else _INVALID  # numeric(38, 18): nothing reaches 10**40
    if kind == "int":
        return value if type(value) is int and abs(value) <= checked.LARGEST_ID else _INVALID
    if kind == "float":
        finite = type(value) in (int, float) and math.isfinite(value)
        return value if finite else _INVALID
    if kind == "bool":
        return value if type(value) is bool else _INVALID
    if kind == "str":
        plain = isinstance(value, str) and len(value) <= 1000 and checked.NUL not in value
        plain = plain and checked.unicode(value)
        return value if plain else _INVALID
    return _INVALID


def _cursor_time(value: Any) -> Any:
    text = value.get("t") if isinstance(value, dict) else None
    if not isinstance(text, str) or len(text) > 40:
        return _INVALID
    try:
        moment = datetime.fromisoformat(text)
        moment.astimezone(UTC)  # a time near the calendar's ends may have no UTC
    except (ValueError, OverflowError):
        return _INVALID
    return moment if moment.tzinfo is not None else _INVALID


@dataclass
class Page:
    rows: list  # named tuples of `shown_fields`
    next_cursor: str = ""
    previous_cursor: str = ""


def page(connector: Connector, rows: QuerySet, query: TableQuery, size: int = PAGE_SIZE) -> Page:
    """One keyset page of `rows` (the connector's filtered rows) in the query's order;
    `after`/`before` cursors move through it."""
    column = query.sort_column
    field_name = _field_name(rows.model, column)
    backwards = bool(query.before) and not query.after
    cursor = _decode(query.before if backwards else query.after, _kind(query.stream, column))
    descending = query.descending != backwards
    beyond = None if cursor is None else _beyond(field_name, *cursor, descending)
    if beyond is not None:
        rows = rows.filter(beyond)
    order, main = (field_name, descending), column in query.stream.main_metrics
    shown = shown_fields(rows.model, query.stream)
    if main and not _narrowed(query) and metric_order.usable():
        key = _order(*order)
        answered = answer(connector, query)
        days = (answered.first, answered.last) if answered.answered else None
        owned = answered.where(daily=False)
        ids = metric_order.first_ids(
            connector, rows.model, days, owned, order, key, beyond, size + 1
        )
        rows = rows.model.objects.filter(pk__in=ids).order_by(*key)
    else:
        rows = rows.order_by(*_order(*order, hide_index=main))[: size + 1]
    found = list(rows.values_list(*shown, named=True))
    more = len(found) > size
    found = found[:size]
    if backwards:
        found.reverse()
    result = Page(found)
    if found and (more or backwards):
        result.next_cursor = _encode(getattr(found[-1], field_name), found[-1].id)
    if found and (cursor is not None) and (more or not backwards):
        result.previous_cursor = _encode(getattr(found[0], field_name), found[0].id)
    return result


def shown_fields(model, stream: UsageStream) -> list[str]:
    """The fields a page reads: what it shows, and the id its cursors hold. Not the
    fetch times, row key or extra JSON each row also keeps (parsing them cost more than
    reading them)."""
    columns = [f.column for f in (*stream.dimensions, *stream.metrics)]
    return [
        "id",
        "start_time",
        "end_time",
        "provisional",
        "task_id",
        *[_field_name(model, c) for c in columns],
    ]


def _order(field_name: str, descending: bool, hide_index: bool = False) -> list:
    """The ORDER BY of a page, ties broken by id. With `hide_index`, the sort key is
    written as an expression no index serves: a main metric's per-day index would
    leave the planner walking most of it when other filters reject most rows, so
    filtered pages are read by time and sorted, as any other column's are."""
    key: Any = F(field_name) + 0 if hide_index else F(field_name)
    return [key.desc(), F("id").desc()] if descending else [key.asc(), F("id").asc()]


def _narrowed(query: TableQuery) -> bool:
    return bool(query.dims or query.q or query.task_id) or query.batch is not None


def _field_name(model, column: str) -> str:
    return next(f.name for f in model._meta.concrete_fields if f.column == column)


def _beyond(field_name: str, value: Any, pk: int, descending: bool) -> Q:
    """Rows after (value, pk) in the order: NULLs sort last ascending, first descending.

    The redundant bound on the value alone lets an index on the column start right at
    the cursor instead of walking past every earlier row."""
    op = "lt" if descending else "gt"
    if value is None:
        after_nulls = Q(**{f"{field_name}__isnull": False}) if descending else Q(pk__in=[])
        return after_nulls | Q(**{f"{field_name}__isnull": True, f"pk__{op}": pk})
    beyond = Q(**{f"{field_name}__{op}": value}) | Q(**{field_name: value, f"pk__{op}": pk})
    bound = Q(**{f"{field_name}__{op}e": value})
    if descending:
        return bound & beyond
    return (bound & beyond) | Q(**{f"{field_name}__isnull": True})


# --- totals ---------------------------------------------------------------


def summed(connector: Connector, query: TableQuery, by: str | None = None) -> QuerySet | None:
    """The fewest pre-summed rows holding the sums of the filtered rows grouped by `by`
    (or not grouped): the per-dimension rollup when the filters and `by` together
    involve at most one text dimension, else the daily rollup; None for a table without
    rollups (costs). Both have the rows' metric columns, `rowCount` and `provisionalRows`."""
    if query.stream.type not in DAILY_TABLES:
        return None
    involved = answer(connector, query, by).question.involved
    dims = by_dimensions(query.stream)
    if len(involved) > 1 or not involved <= set(dims):
        return filtered(connector, query, daily=True, by=by)
    dimension = next(iter(involved), dims[0])
    rows = DAILY_BY_TABLES[query.stream.type].objects.filter(
        connector=connector, dimension=dimension
    )
    rows = rows.filter(answer(connector, query, by).where(daily=True))
    if dimension in query.dims:
        rows = rows.filter(**{dimension: query.dims[dimension]})
    if query.q:
        matched = text_matches(connector, query).get(dimension, [])
        rows = rows.filter(**{f"{dimension}__in": matched})
    return rows


def totals(connector: Connector, query: TableQuery) -> dict[str, Any]:
    """The sums of every numeric metric over the whole filtered set, and its row count.

    Read from the smallest rollup that can answer the filters (`summed`): a few hundred
    rows a month instead of a million, with exactly the same sums. Over no rows the sums are 0
    when tasks answer the question (their days had no usage), None when none does; a
    column OpenAI left empty in every row stays None.
    """
    rollup = summed(connector, query)
    rows = rollup if rollup is not None else filtered(connector, query)
    numeric = [f.column for f in query.stream.metrics if f.type in NUMERIC]
    count = Sum("row_count") if rollup is not None else Count("id")
    provisional = (
        Sum("provisional_rows") if rollup is not None else Count("id", filter=Q(provisional=True))
    )
    sums = rows.aggregate(
        rows=count,
        provisional_rows=provisional,
        **{c: Total(_field_name(rows.model, c)) for c in numeric},
    )
    sums["rows"] = sums["rows"] or 0
    sums["provisional_rows"] = sums["provisional_rows"] or 0
    if answer(connector, query).answered and not sums["rows"]:  # collected, no usage: 0
        sums |= {c: 0 for c in numeric}
    for column, unit_column in UNIT_COLUMNS.items():
        if column in sums:
            sums |= _one_unit(rows, column, unit_column, sums[column])
    return sums


# A metric whose unit is another column of its row: its total is a number only when
# every row has the same unit (costs' `quantity` counts tokens, sessions, characters…).
UNIT_COLUMNS = {"quantity": "quantityUnit"}


def _one_unit(rows: QuerySet, column: str, unit_column: str, total) -> dict[str, Any]:
    """{column: the total or None, "<column>_units": the units in the rows}."""
    field_name = _field_name(rows.model, unit_column)
    found = rows.exclude(**{f"{field_name}__isnull": True}).order_by().values_list(field_name)
    units = sorted({unit for (unit,) in found.distinct()})
    return {column: total if len(units) <= 1 else None, f"{column}_units": units}
