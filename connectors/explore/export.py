"""Export CSV: a filtered table in the page's order, with names, then its totals line.

Constant memory at any size, in one of two ways that write the same bytes:
- On Postgres, the database writes the rows as CSV itself (`COPY (SELECT …) TO STDOUT`),
  about as fast as it can read them; the directory's names go in as one JSON parameter
  (the connector's labels, made in Python by `names.Name`), looked up row by row.
- Elsewhere (the embedded SQLite), rows are read as tuples a chunk at a time and written
  with the csv module.

Either way: times in ISO 8601 UTC, decimals without exponent or trailing zeros, booleans
as `true`/`false`, empty dimensions as empty fields, lines ending in `\\n`. A text cell
that a spreadsheet would read as a formula (it begins with =, +, -, @, a tab or a CR: a
project, user or key name is anyone's choice) begins with a single quote instead, as
OWASP advises; numbers are never text, so a negative one stays as it is.
"""

from __future__ import annotations

import csv
import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import QuerySet

from connectors.explore import datatables
from connectors.explore.names import NAMED, Name, missing_states, name_column, names_of
from connectors.explore.table_rows import plain
from connectors.models import Connector
from connectors.openai.streams import UsageStream

CHUNK = 2000  # rows per read on the embedded database
# A text cell beginning with one of these is a formula to a spreadsheet.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
SEND = 256 * 1024  # bytes of COPY output gathered before they are sent on


def csv_lines(connector: Connector, query, rows: QuerySet) -> Iterator[str | bytes]:
    """The header, every row the filters select in the query's order, and the totals.

    Planned before the response starts: the totals are summed, the directory's labels
    read and the rows' statement made here, so whatever the request's values can make
    fail fails before a 200 is sent; what is left to stream is reading the rows. (The
    rows' query itself starts with the stream: a COPY in progress would hold the
    connection that the middleware still uses after the view.)"""
    stream = query.stream
    dims = [f.column for f in stream.dimensions]
    metrics = [f.column for f in stream.metrics]
    named = _named(stream)
    header = ["startTime", "endTime", "bucketWidth", *dims, *[name_column(c) for c in named]]
    head = csv_text([[*header, *metrics, "object", "provisional"]])
    sums = datatables.totals(connector, query)
    blanks = [""] * (len(header) - 1)
    tail = csv_text([["totals", *blanks, *[plain(sums.get(c)) for c in metrics], "", ""]])
    body = copied(connector, query, rows) if by_copy(stream) else written(connector, query, rows)
    return itertools.chain([head], body, [tail])


def _named(stream: UsageStream) -> list[str]:
    """The stream's dimensions that have names in the directory, in the CSV's order."""
    dims = {f.column for f in stream.dimensions}
    return [c for c in NAMED if c in dims]


def by_copy(stream: UsageStream) -> bool:
    """Postgres writes the CSV, unless a float metric would come out unlike Python's."""
    floats = any(f.type == "float" for f in (*stream.dimensions, *stream.metrics))
    return connection.vendor == "postgresql" and not floats


def inert(text: str | None) -> str | None:
    """A text cell a spreadsheet will not run: one that would begin a formula gets a
    single quote first (the `_inert` SQL does the same in Postgres)."""
    return f"'{text}" if text and text.startswith(FORMULA_STARTS) else text


class _Echo:
    def write(self, text: str) -> str:
        return text


def csv_text(lines: list[list]) -> str:
    """CSV lines ending in "\n". The csv module quotes a field holding CR or LF only
    when both are in its own line end, so it writes "\r\n" lines (quoting as Postgres
    quotes) and each line's end is swapped."""
    writer = csv.writer(_Echo(), lineterminator="\r\n")
    return "".join(writer.writerow(line)[:-2] + "\n" for line in lines)


def _order(rows: QuerySet, query) -> list[str]:
    field = datatables._field_name(rows.model, query.sort_column)
    return [f"-{field}", "-id"] if query.descending else [field, "id"]


def _columns(rows: QuerySet, stream: UsageStream) -> list[str]:
    """The exported fields of a row, in the CSV's order (names apart)."""
    fields = (*stream.dimensions, *stream.metrics)
    values = [datatables._field_name(rows.model, f.column) for f in fields]
    return ["start_time", "end_time", "bucket_width", *values, "object", "provisional"]


# --- Postgres: COPY … TO STDOUT --------------------------------------------------------


def copied(connector: Connector, query, rows: QuerySet) -> Iterator[bytes]:
    """The rows as Postgres writes them in CSV, gathered into pieces of about SEND bytes.
    The statement is made now; it runs when the first piece is asked for."""
    try:
        sql, params = _copy_sql(connector, query, rows)
    except EmptyResultSet:  # the filters can match nothing (a search without matches)
        return iter(())
    return _copy_out(sql, params)


def _copy_out(sql: str, params: list) -> Iterator[bytes]:
    pending = bytearray()
    with (
        connection.wrap_database_errors,
        connection.cursor() as cursor,
        cursor.cursor.copy(sql, params) as copy,
    ):
        for block in copy:
            pending += block
            if len(pending) >= SEND:
                yield bytes(pending)
                pending.clear()
    if pending:
        yield bytes(pending)


def _copy_sql(connector: Connector, query, rows: QuerySet) -> tuple[str, list]:
    stream = query.stream
    q = connection.ops.quote_name
    inner, params = rows.values("id", *_columns(rows, stream)).query.sql_with_params()

    def at(column: str) -> str:  # the inner query names its columns by field
        return f"t.{q(datatables._field_name(rows.model, column))}"

    utc = '\'YYYY-MM-DD"T"HH24:MI:SS"+00:00"\''
    cells = [f"to_char({at(c)} AT TIME ZONE 'UTC', {utc})" for c in ("startTime", "endTime")]
    cells.append(at("bucketWidth"))
    cells += [_cell(at(f.column), f.type) for f in stream.dimensions]
    named = _named(stream)
    missing = missing_states(connector)
    cells += [_label(at(c), c, missing.get(c, "")) for c in named]
    cells += [_cell(at(f.column), f.type) for f in stream.metrics]
    cells += [_inert(at("object")), f"{at('provisional')}::text"]
    labels = json.dumps(labels_of(connector, named))
    direction = "DESC" if query.descending else "ASC"
    sql = (
        f"COPY (SELECT {', '.join(cells)} FROM ({inner}) AS t"
        f" ORDER BY {at(query.sort_column)} {direction}, t.id {direction})"
        " TO STDOUT (FORMAT csv)"
    )  # the ORM's own SQL and the stream's quoted columns; every value is a parameter
    return sql, [*[labels] * len(named), *params]


def _label(value: str, column: str, missing: str) -> str:
    """The directory's label of an id (from the JSON parameter); for an id it does not
    list, the id and `missing` in brackets where that column has a state for it (a
    deleted key), as `names.Name.label` writes it, else nothing."""
    label = f"(%s::jsonb -> '{column}' ->> {value})"  # made inert by `labels_of`
    if not missing:
        return label
    fallback = _inert(f"NULLIF({value}, '') || ' ({missing})'")
    return f"COALESCE({label}, {fallback})"


def _cell(value: str, kind: str) -> str:
    """A value as the csv module writes it from Python: see `table_rows.plain`."""
    if kind == "decimal":
        return f"trim_scale({value})"
    if kind == "bool":
        return f"{value}::text"
    if kind == "str":  # empty, not quoted: as the csv module writes ""
        return _inert(f"NULLIF({value}, '')")
    return value


def _inert(text: str) -> str:
    """A text cell as `inert` writes it (NULL stays NULL)."""
    starts = ", ".join(f"chr({ord(c)})" for c in FORMULA_STARTS)
    return f"CASE WHEN left({text}, 1) IN ({starts}) THEN '''' || {text} ELSE {text} END"


def labels_of(connector: Connector, columns: list[str]) -> dict[str, dict[str, str]]:
    """{column: {id: label}} of the connector's whole directory, for the named columns,
    each label `inert`: read once per export, by both ways of writing it."""
    found = names_of(connector, dict.fromkeys(columns))
    return {c: {pk: inert(name.label) for pk, name in found[c].items()} for c in columns}


# --- elsewhere: the csv module ----------------------------------------------------------


def written(connector: Connector, query, rows: QuerySet) -> Iterator[str]:
    """The rows read as tuples a chunk at a time, each chunk written as one piece. The
    labels are read now; the rows when the first piece is asked for."""
    stream = query.stream
    dims = [f.column for f in stream.dimensions]
    named = _named(stream)
    labels = labels_of(connector, named)
    # Each column's labels, its id's place in a row tuple, and the state of ids not listed.
    missing = missing_states(connector)
    at = [(labels[c], 3 + dims.index(c), missing.get(c, "")) for c in named]
    shown = _shown(stream)
    found = rows.order_by(*_order(rows, query)).values_list(*_columns(rows, stream))
    return _chunks(found, len(dims), at, shown)


def _chunks(found: QuerySet, dim_count: int, at: list, shown) -> Iterator[str]:
    chunk: list[tuple] = []
    for row in found.iterator(chunk_size=CHUNK):
        chunk.append(row)
        if len(chunk) == CHUNK:
            yield _chunk(chunk, dim_count, at, shown)
            chunk = []
    if chunk:
        yield _chunk(chunk, dim_count, at, shown)


def _shown(stream: UsageStream) -> list[tuple[int, object]]:
    """(position in a row tuple, how to write it) for the values the csv module would
    write differently from the table: decimals without exponent, booleans as JSON has
    them, text that would be a formula made inert. Integers and other text it writes as
    they are (None as an empty field)."""
    fields = (*stream.dimensions, *stream.metrics)
    shown = [(3 + i, plain) for i, f in enumerate(fields) if f.type in ("decimal", "float", "bool")]
    shown += [(3 + i, inert) for i, f in enumerate(fields) if f.type == "str"]
    provisional = 3 + len(fields) + 1  # after the values and `object`
    return [*shown, (provisional - 1, inert), (provisional, plain)]


def _chunk(chunk: list[tuple], dim_count: int, at: list[tuple[dict, int, str]], shown) -> str:
    """Row tuples (times, width, dimensions, metrics, object, provisional) as CSV lines,
    with the directory's names after the dimensions."""
    split = 3 + dim_count
    times: dict[datetime, str] = {}  # a bucket's rows share their start and end
    lines = []
    for row in chunk:
        values = list(row)
        for position, write in shown:
            values[position] = write(values[position])
        start, end = (times.get(t) or times.setdefault(t, _iso(t)) for t in row[:2])
        labels = [inert(_known(known, row[i], missing)) for known, i, missing in at]
        lines.append([start, end, *values[2:split], *labels, *values[split:]])
    return csv_text(lines)


def _known(labels: dict[str, str], value: str | None, missing: str) -> str:
    found = labels.get(value) if value else None
    if found is None:
        return Name(value, missing).label if value and missing else ""
    return found


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()
