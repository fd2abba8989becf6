"""Keeping the daily rollups of usage rows in step with the rows themselves.

After a page is written, the days it touched are summed again from the rows (in the
page's transaction), so a rollup is always exactly the sum of its rows, revised buckets
included; then those days of the per-dimension rollup (`{table}DailyBy`) are summed again
from the daily rows just written, which are far fewer than the rows. A fixed number of
statements per page.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from django.db import connection
from django.db.models import Count, Q, Sum
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
    dims = [f.column for f in stream.dimensions]
    sums = [f.column for f in stream.metrics if f.type in NUMERIC]
    daily.objects.filter(
        task_id=task_id, bucket_width=width, day__gte=first, day__lte=last
    ).delete()
    if connection.vendor == "postgresql":
        _insert_select(stream, daily, dims, sums, (task_id, width, begin, stop))
    else:
        _insert_groups(stream, daily, dims, sums, (task_id, width, begin, stop))
    _refresh_by_dimension(stream, task_id, width, first, last)


def _insert_groups(stream, daily, dims: list[str], sums: list[str], params: tuple) -> None:
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
        )
        .order_by()
    )
    daily.objects.bulk_create(
        [daily(task_id=task_id, bucket_width=width, **group) for group in groups]
    )


def _insert_select(stream, daily, dims: list[str], sums: list[str], params: tuple) -> None:
    """On Postgres the sums go from table to rollup in one statement, never via Python."""
    q = connection.ops.quote_name
    keys = ["taskId", "connectorId", "bucketWidth", "rowKey", *dims]
    totals = [f"sum({q(c)})" for c in sums]
    sql = (
        f"INSERT INTO {q(daily._meta.db_table)} "
        f"({', '.join(q(c) for c in [*keys, 'day', *sums, 'rowCount', 'provisionalRows'])}) "
        f"SELECT {', '.join(q(c) for c in keys)}, "
        f"({q('startTime')} AT TIME ZONE 'UTC')::date, {', '.join([*totals, ''])}"
        "count(*), count(*) FILTER (WHERE provisional) "
        f"FROM {q(USAGE_TABLES[stream.type]._meta.db_table)} "
        f"WHERE {q('taskId')} = %s AND {q('bucketWidth')} = %s "
        f"AND {q('startTime')} >= %s AND {q('startTime')} < %s "
        f"GROUP BY {', '.join(q(c) for c in keys)}, ({q('startTime')} AT TIME ZONE 'UTC')::date"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _refresh_by_dimension(stream: UsageStream, task_id: int, width: str, first, last) -> None:
    """Sum again days first..last of the per-dimension rollup from the daily rollup."""
    by = DAILY_BY_TABLES[stream.type]
    days = {"task_id": task_id, "bucket_width": width, "day__gte": first, "day__lte": last}
    by.objects.filter(**days).delete()
    sums = [f.column for f in stream.metrics if f.type in NUMERIC]
    dims = by_dimensions(stream)
    if connection.vendor == "postgresql":
        _insert_by_dimension(stream, dims, sums, (task_id, width, first, last))
        return
    daily = DAILY_TABLES[stream.type].objects.filter(**days)
    for dim in dims:
        groups = daily.values("day", "connector_id", dim).annotate(
            **{c: Sum(c) for c in sums},
            row_count=Sum("row_count"),
            provisional_rows=Sum("provisional_rows"),
        )
        by.objects.bulk_create(
            by(task_id=task_id, bucket_width=width, dimension=dim, **g) for g in groups.order_by()
        )


def _insert_by_dimension(stream, dims: list[str], sums: list[str], params: tuple) -> None:
    """One INSERT ... SELECT with a grouping set per dimension: one pass over the rows."""
    q = connection.ops.quote_name
    keys = ["taskId", "connectorId", "bucketWidth", "day"]
    named = " ".join(f"WHEN GROUPING({q(d)}) = 0 THEN '{d}'" for d in dims)
    totals = [f"sum({q(c)})" for c in [*sums, "rowCount", "provisionalRows"]]
    sql = (
        f"INSERT INTO {q(DAILY_BY_TABLES[stream.type]._meta.db_table)} "
        f"({', '.join(q(c) for c in [*keys, 'dimension', *dims, *sums])}, "
        f"{q('rowCount')}, {q('provisionalRows')}) "
        f"SELECT {', '.join(q(c) for c in keys)}, CASE {named} END, "
        f"{', '.join([*(q(d) for d in dims), *totals])} "
        f"FROM {q(DAILY_TABLES[stream.type]._meta.db_table)} "
        f"WHERE {q('taskId')} = %s AND {q('bucketWidth')} = %s AND day >= %s AND day <= %s "
        f"GROUP BY {', '.join(q(c) for c in keys)}, "
        f"GROUPING SETS ({', '.join(f'({q(d)})' for d in dims)})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
