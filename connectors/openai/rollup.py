"""Keeping the daily rollups of usage rows in step with the rows themselves.

After a page is written, the days it touched are summed again from the rows (in the
page's transaction), so a rollup is always exactly the sum of its rows, revised buckets
included. The same days of the per-dimension rollup (`{table}DailyBy`) are summed again
from the new daily rows; on Postgres both in one statement, the daily rows going
straight from the first INSERT into the second, never read back. A fixed number of
statements per page.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from django.db import connection
from django.db.models import Count, Max, Q, Sum
from django.db.models.functions import TruncDate

from connectors.models import DAILY_BY_TABLES, DAILY_TABLES, USAGE_TABLES
from connectors.models.tables import NUMERIC, by_dimensions
from connectors.openai.streams import UsageStream


def refresh_days(
    stream: UsageStream, task_id: int, width: str, start: datetime, end: datetime
) -> None:
    """Sum again the UTC days that [start, end) touches, for one task and bucket width."""
    daily = DAILY_TABLES.get(stream.type)
    if daily is None:
        return
    first, last = start.astimezone(UTC).date(), (end - timedelta(seconds=1)).astimezone(UTC).date()
    begin = datetime.combine(first, time(), UTC)
    stop = datetime.combine(last + timedelta(days=1), time(), UTC)
    sums = [f.column for f in stream.metrics if f.type in NUMERIC]
    days = {"task_id": task_id, "bucket_width": width, "day__gte": first, "day__lte": last}
    if connection.vendor == "postgresql":
        _refresh_in_one_go(stream, sums, (task_id, width, first, last), (begin, stop))
        return
    daily.objects.filter(**days).delete()
    DAILY_BY_TABLES[stream.type].objects.filter(**days).delete()
    _insert_groups(
        stream, [f.column for f in stream.dimensions], sums, (task_id, width, begin, stop)
    )
    _insert_by_dimension_groups(stream, sums, days)


def _insert_groups(stream, dims: list[str], sums: list[str], params: tuple) -> None:
    daily = DAILY_TABLES[stream.type]
    task_id, width, begin, stop = params
    groups = (
        USAGE_TABLES[stream.type]
        .objects.filter(
            task_id=task_id, bucket_width=width, start_time__gte=begin, start_time__lt=stop
        )
        .annotate(day=TruncDate("start_time", tzinfo=UTC))
        .values("day", "row_key", "connector_id", *dims)
        .annotate(
            **{c: Sum(c) for c in sums},
            row_count=Count("id"),
            provisional_rows=Count("id", filter=Q(provisional=True)),
            last_fetched_at=Max("last_fetched_at"),
        )
        .order_by()
    )
    daily.objects.bulk_create(
        [daily(task_id=task_id, bucket_width=width, **group) for group in groups]
    )


def _insert_by_dimension_groups(stream, sums: list[str], days: dict) -> None:
    by = DAILY_BY_TABLES[stream.type]
    daily = DAILY_TABLES[stream.type].objects.filter(**days)
    for dim in by_dimensions(stream):
        groups = daily.values("day", "connector_id", dim).annotate(
            **{c: Sum(c) for c in sums},
            row_count=Sum("row_count"),
            provisional_rows=Sum("provisional_rows"),
            last_fetched_at=Max("last_fetched_at"),
        )
        by.objects.bulk_create(
            by(task_id=days["task_id"], bucket_width=days["bucket_width"], dimension=dim, **g)
            for g in groups.order_by()
        )


def _refresh_in_one_go(stream, sums: list[str], days: tuple, span: tuple) -> None:
    """On Postgres: both deletes and the inserts in one round trip. The sums go from table
    to rollups never via Python: the daily rows are summed from the rows, and the rows it
    inserts are summed again per dimension with one grouping set each (one pass, hashed).
    Rows are grouped by day and rowKey only; the dimensions, which the rowKey stands for,
    come along as aggregates (sorting by every dimension cost twice as much)."""
    q = connection.ops.quote_name
    task_id, width, first, last = days
    keys = ["taskId", "bucketWidth", "rowKey"]
    dims = [(f.column, "bool_or" if f.type == "bool" else "min") for f in stream.dimensions]
    counts = ["rowCount", "provisionalRows", "lastFetchedAt"]
    columns = ", ".join(q(c) for c in [*keys, "connectorId", *(d for d, _ in dims), "day"])
    day = f"({q('startTime')} AT TIME ZONE 'UTC')::date"
    values = [f"min({q('connectorId')})", *(f"{agg}({q(d)})" for d, agg in dims), day]
    values += [f"sum({q(c)})" for c in sums] + ["count(*)", "count(*) FILTER (WHERE provisional)"]
    values.append(f"max({q('lastFetchedAt')})")
    daily = (
        f"INSERT INTO {q(DAILY_TABLES[stream.type]._meta.db_table)} "
        f"({columns}, {', '.join(q(c) for c in [*sums, *counts])}) "
        f"SELECT {', '.join(q(c) for c in keys)}, {', '.join(values)} "
        f"FROM {q(USAGE_TABLES[stream.type]._meta.db_table)} "
        f"WHERE {q('taskId')} = %s AND {q('bucketWidth')} = %s "
        f"AND {q('startTime')} >= %s AND {q('startTime')} < %s "
        f"GROUP BY {day}, {', '.join(q(c) for c in keys)} "
        f"RETURNING {columns}, {', '.join(q(c) for c in [*sums, *counts])}"
    )
    delete = "DELETE FROM {} WHERE {} = %s AND {} = %s AND day BETWEEN %s AND %s; ".format
    with connection.cursor() as cursor:  # client-side binding: several statements at once
        cursor.execute(
            delete(q(DAILY_TABLES[stream.type]._meta.db_table), q("taskId"), q("bucketWidth"))
            + delete(q(DAILY_BY_TABLES[stream.type]._meta.db_table), q("taskId"), q("bucketWidth"))
            + f"WITH daily AS ({daily}) {_by_dimension_sql(stream, sums)}",
            [*days, *days, task_id, width, *span],
        )


def _by_dimension_sql(stream, sums: list[str]) -> str:
    """INSERT the per-dimension sums of the CTE `daily` into `{table}DailyBy`."""
    q = connection.ops.quote_name
    keys = ["taskId", "connectorId", "bucketWidth", "day"]
    dims = by_dimensions(stream)
    named = " ".join(f"WHEN GROUPING({q(d)}) = 0 THEN '{d}'" for d in dims)
    totals = [f"sum({q(c)})" for c in [*sums, "rowCount", "provisionalRows"]]
    totals.append(f"max({q('lastFetchedAt')})")
    return (
        f"INSERT INTO {q(DAILY_BY_TABLES[stream.type]._meta.db_table)} "
        f"({', '.join(q(c) for c in [*keys, 'dimension', *dims, *sums])}, "
        f"{q('rowCount')}, {q('provisionalRows')}, {q('lastFetchedAt')}) "
        f"SELECT {', '.join(q(c) for c in keys)}, CASE {named} END, "
        f"{', '.join([*(q(d) for d in dims), *totals])} FROM daily "
        f"GROUP BY {', '.join(q(c) for c in keys)}, "
        f"GROUPING SETS ({', '.join(f'({q(d)})' for d in dims)})"
    )
