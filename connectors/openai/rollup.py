"""Keeping the daily rollups of usage rows in step with the rows themselves.

After a page is written, the days it touched are summed again from the rows (in the
page's transaction), so a rollup is always exactly the sum of its rows, revised buckets
included. A fixed number of statements per page.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

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
    sums = {f.column: Sum(f.column) for f in stream.metrics if f.type in NUMERIC}
    groups = (
        USAGE_TABLES[stream.type]
        .objects.filter(
            task_id=task_id, bucket_width=width, start_time__gte=begin, start_time__lt=stop
        )
        .annotate(day=TruncDate("start_time", tzinfo=UTC))
        .values("day", "row_key", "connector_id", *dims)
        .annotate(
            **sums,
            row_count=Count("id"),
            provisional_rows=Count("id", filter=Q(provisional=True)),
        )
        .order_by()
    )
    rows = [daily(task_id=task_id, bucket_width=width, **group) for group in groups]
    daily.objects.filter(
        task_id=task_id, bucket_width=width, day__gte=first, day__lte=last
    ).delete()
    daily.objects.bulk_create(rows)
