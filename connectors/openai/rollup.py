"""Keeping the daily rollups of usage rows in step with the rows themselves.

After a page is written, the days it touched are summed again from the rows (in the
page's transaction), so a rollup is always exactly the sum of its rows, revised buckets
included. A fixed number of statements per page.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from django.db import connection
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate

from connectors.models import DAILY_TABLES, USAGE_TABLES
from connectors.models.tables import NUMERIC
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
        return
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
