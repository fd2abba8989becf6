"""Fill the rollups' new `lastFetchedAt` from the rows they sum.

Not atomic: each table is filled in its own transaction, so the rollups stay readable
and writable while the others are filled (a run refreshing a day meanwhile writes the
right value itself). On Postgres one UPDATE per table (per dimension for the
per-dimension rollups); elsewhere the ORM, group by group.
"""

from datetime import UTC

from django.db import migrations, models, transaction
from django.db.models.functions import TruncDate


def fill_last_fetched(apps, schema_editor):
    """Each rollup row gets the newest `lastFetchedAt` of the rows it sums (new rows
    keep it up to date): the daily rows from the usage rows, then the per-dimension
    rows from the daily ones."""
    postgres = schema_editor.connection.vendor == "postgresql"
    for daily in _models(apps, "Daily"):
        usage = apps.get_model("connectors", daily.__name__[: -len("Daily")])
        with transaction.atomic():
            if postgres:
                _fill_daily_sql(schema_editor, daily, usage)
            else:
                _fill_daily_orm(daily, usage)
    for by in _models(apps, "DailyBy"):
        daily = apps.get_model("connectors", by.__name__[: -len("By")])
        with transaction.atomic():
            if postgres:
                _fill_by_dimension_sql(schema_editor, by, daily)
            else:
                _fill_by_dimension_orm(by, daily)


def _models(apps, suffix: str) -> list:
    config = apps.get_app_config("connectors")
    return [m for m in config.get_models() if m.__name__.endswith(suffix)]


def _fill_daily_sql(schema_editor, daily, usage) -> None:
    q = schema_editor.quote_name
    keys = [q(c) for c in ("taskId", "bucketWidth", "rowKey")]
    schema_editor.execute(
        f"UPDATE {q(daily._meta.db_table)} AS d SET {q('lastFetchedAt')} = s.newest "
        f"FROM (SELECT {', '.join(keys)}, ({q('startTime')} AT TIME ZONE 'UTC')::date AS day,"
        f" max({q('lastFetchedAt')}) AS newest FROM {q(usage._meta.db_table)}"
        f" GROUP BY {', '.join(keys)}, 4) AS s "
        f"WHERE {' AND '.join(f'd.{k} = s.{k}' for k in keys)} AND d.day = s.day"
    )


def _fill_daily_orm(daily, usage) -> None:
    groups = (
        usage.objects.annotate(day=TruncDate("start_time", tzinfo=UTC))
        .values("task_id", "bucket_width", "row_key", "day")
        .annotate(newest=models.Max("last_fetched_at"))
        .order_by()
    )
    for group in groups.iterator():
        newest = group.pop("newest")
        daily.objects.filter(**group).update(last_fetched_at=newest)


def _dimensions(by) -> list[str]:
    return [f.column for f in by._meta.concrete_fields if isinstance(f, models.TextField)]


def _fill_by_dimension_sql(schema_editor, by, daily) -> None:
    """Per dimension value and day, the newest of the daily rows holding that value;
    NULL (the dimension not grouped) is a value like any other, joined on its own so
    that both joins stay plain equalities."""
    q = schema_editor.quote_name
    keys = [q(c) for c in ("taskId", "bucketWidth", "day")]
    on = " AND ".join(f"b.{k} = s.{k}" for k in keys)
    for dim in _dimensions(by):
        for match in (f"b.{q(dim)} = s.{q(dim)}", f"b.{q(dim)} IS NULL AND s.{q(dim)} IS NULL"):
            schema_editor.execute(
                f"UPDATE {q(by._meta.db_table)} AS b SET {q('lastFetchedAt')} = s.newest "
                f"FROM (SELECT {', '.join(keys)}, {q(dim)}, max({q('lastFetchedAt')}) AS newest"
                f" FROM {q(daily._meta.db_table)} GROUP BY {', '.join(keys)}, {q(dim)}) AS s "
                f"WHERE b.dimension = %s AND {on} AND {match}",
                [dim],
            )


def _fill_by_dimension_orm(by, daily) -> None:
    keys = ("task_id", "bucket_width", "day")
    for dim in _dimensions(by):
        groups = daily.objects.values(*keys, dim).annotate(newest=models.Max("last_fetched_at"))
        for group in groups.order_by().iterator():
            newest, value = group.pop("newest"), group.pop(dim)
            rows = by.objects.filter(dimension=dim, **group)
            rows = rows.filter(**({f"{dim}__isnull": True} if value is None else {dim: value}))
            rows.update(last_fetched_at=newest)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("connectors", "0008_rollup_last_fetched"),
    ]

    operations = [
        migrations.RunPython(fill_last_fetched, migrations.RunPython.noop, elidable=True),
    ]
