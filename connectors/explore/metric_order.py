"""The first rows of a connector's table sorted by a main metric, read day by day.

Each main metric has an index on (connector, UTC day, metric, id). The largest rows of
a range of days are among the largest of each of its days, so a page's ids are the
first index entries of each day beyond the cursor, merged: at most (days x page size)
entries are read, not every row of the range. Postgres only (a LATERAL join over the
range's days); elsewhere the rows are simply sorted.
"""

from __future__ import annotations

from datetime import date

from django.db import connection
from django.db.models import Q
from django.db.models.expressions import RawSQL

from connectors.models import Connector
from connectors.models.tables import utc_day


def usable() -> bool:
    return connection.vendor == "postgresql"


def first_ids(
    connector: Connector,
    model,
    days: tuple[date, date] | None,
    owned: Q,
    order: tuple[str, bool],
    key: list,
    beyond: Q | None,
    count: int,
) -> list[int]:
    """The ids of the first `count` rows of `connector` on the UTC days [first, last]
    of `days` that `owned` keeps (the answering tasks' rows), in `order` (field,
    descending; `key` is that order as the page writes it) with ties by id, after the
    cursor condition `beyond`."""
    if days is None:
        return []
    field, descending = order
    rows = model.objects.filter(connector=connector).filter(owned)
    if beyond is not None:
        rows = rows.filter(beyond)
    rows = rows.alias(day=utc_day("start_time")).filter(day=RawSQL("d.day::date", ()))
    inner, params = rows.order_by(*key).values("id", field)[:count].query.sql_with_params()
    column = connection.ops.quote_name(model._meta.get_field(field).column)
    direction = "DESC" if descending else "ASC"
    sql = (
        "SELECT c.id FROM generate_series(%s::date, %s::date, interval '1 day') AS d(day)"
        f" CROSS JOIN LATERAL ({inner}) AS c"
        f" ORDER BY c.{column} {direction}, c.id {direction} LIMIT %s"
    )  # the ORM's own SQL and a quoted column; every value is a parameter
    with connection.cursor() as cursor:
        cursor.execute(sql, [days[0], days[1], *params, count])
        return [pk for (pk,) in cursor.fetchall()]
