"""The typed output tables, one per query type, with the product's camelCase columns.

Usage tables are generated from the registry: adding a usage stream adds its table
(then `makemigrations`). Each row is one bucket and one combination of the grouped
dimensions; its natural key is (task, bucket width, bucket start, dimensions), where the
dimensions are folded into `rowKey` so that empty (NULL) dimensions still collide.
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Func, Value
from django.db.models.functions import Cast

from connectors.models.config import Connector, Task
from connectors.openai.streams import DIRECTORY_STREAMS, USAGE_STREAMS, Field, UsageStream


def _column(field: Field) -> models.Field:
    column = {"db_column": field.column, "null": True, "blank": True}
    if field.type == "int":
        return models.BigIntegerField(**column)
    if field.type == "decimal":
        return models.DecimalField(max_digits=38, decimal_places=18, **column)
    if field.type == "float":
        return models.FloatField(**column)
    if field.type == "bool":
        return models.BooleanField(**column)
    return models.TextField(**column)


def _owners() -> dict[str, models.Field]:
    """The task and connector a row belongs to. Neither gets an index of its own: the
    natural key starts with the task and the time index with the connector, so a second
    index on either would only slow every write down."""
    return {
        "task": models.ForeignKey(
            Task, on_delete=models.CASCADE, db_column="taskId", related_name="+", db_index=False
        ),
        "connector": models.ForeignKey(
            Connector,
            on_delete=models.CASCADE,
            db_column="connectorId",
            related_name="+",
            db_index=False,
        ),
    }


def _meta(table: str, time_field: str, key_name: str, index_name: str, more: tuple = ()) -> type:
    """A table's name, its natural key (task, width, time, dimensions) and its index for
    reading one connector's rows by time, then any `more` indexes."""
    key = models.UniqueConstraint(
        fields=["task", "bucket_width", time_field, "row_key"], name=key_name
    )
    by_time = models.Index(fields=["connector", time_field], name=index_name)
    indexes = [by_time, *more]
    return type("Meta", (), {"db_table": table, "constraints": [key], "indexes": indexes})


def _class_name(table: str) -> str:
    return table[0].upper() + table[1:]


def _usage_table(stream: UsageStream) -> type[models.Model]:
    attrs: dict = {
        "__module__": __name__,
        **_owners(),
        "start_time": models.DateTimeField(db_column="startTime"),
        "end_time": models.DateTimeField(db_column="endTime"),
        "bucket_width": models.CharField(max_length=2, db_column="bucketWidth"),
        "row_key": models.UUIDField(db_column="rowKey"),
        "object": models.CharField(max_length=80),
        "first_fetched_at": models.DateTimeField(db_column="firstFetchedAt"),
        "last_fetched_at": models.DateTimeField(db_column="lastFetchedAt"),
        "last_changed_at": models.DateTimeField(db_column="lastChangedAt"),
        "provisional": models.BooleanField(default=False),
        # Fields OpenAI sent that the registry does not know yet: kept, not dropped.
        "extra": models.JSONField(null=True, blank=True),
    }
    for field in (*stream.dimensions, *stream.metrics):
        attrs[field.column] = _column(field)
    table = stream.table
    attrs["Meta"] = _meta(
        table,
        "start_time",
        f"{table}_natural_key",
        f"{table.lower()[:19]}_conn_time",
        tuple(_by_metric(table, column) for column in stream.main_metrics),
    )
    return type(_class_name(table), (models.Model,), attrs)


def _by_metric(table: str, column: str) -> models.Index:
    """An index to page through a connector's rows sorted by one of the table's main
    metrics, per UTC day: the largest buckets of a month are the largest of its days'
    first entries, and a new row lands among its own day's entries, not at a random
    place in the whole table's (which made each collected page several times slower)."""
    name = f"{table.lower()[:14]}_{column.lower()[:10]}_ix"
    return models.Index(F("connector"), utc_day("start_time"), F(column), F("id"), name=name)


def utc_day(field: str) -> Cast:
    """The UTC day of a time column, written as SQL for Postgres (the index and the
    query that walks it must spell it alike)."""
    return Cast(Func(Value("UTC"), F(field), function="timezone"), models.DateField())


USAGE_TABLES: dict[str, type[models.Model]] = {s.type: _usage_table(s) for s in USAGE_STREAMS}

NUMERIC = ("int", "decimal", "float")


def _last_fetched() -> models.DateTimeField:
    """A rollup row's newest `lastFetchedAt` among the rows it sums: how fresh a table
    is, read from a few thousand rollup rows instead of millions of rows."""
    return models.DateTimeField(null=True, blank=True, db_column="lastFetchedAt")


def _daily_table(stream: UsageStream) -> type[models.Model]:
    """The daily rollup of a usage table: per task, bucket width, UTC day and dimensions,
    the sums of its numeric metrics under the same column names, and how many rows each
    sums. Totals and charts over long ranges read it instead of millions of rows."""
    attrs: dict = {
        "__module__": __name__,
        **_owners(),
        "day": models.DateField(),
        "bucket_width": models.CharField(max_length=2, db_column="bucketWidth"),
        "row_key": models.UUIDField(db_column="rowKey"),
        "row_count": models.PositiveIntegerField(db_column="rowCount"),
        "provisional_rows": models.PositiveIntegerField(db_column="provisionalRows"),
        "last_fetched_at": _last_fetched(),
    }
    for field in stream.dimensions:
        attrs[field.column] = _column(field)
    for field in stream.metrics:
        if field.type in NUMERIC:
            attrs[field.column] = _column(field)
    table = f"{stream.table}Daily"
    short = table.lower()[:18]
    by_project = ()
    if "projectId" in {f.column for f in stream.dimensions}:  # charts of one project
        by_project = (models.Index(fields=["connector", "projectId", "day"], name=f"{short}_proj"),)
    attrs["Meta"] = _meta(table, "day", f"{short}_natural_key", f"{short}_conn_day", by_project)
    return type(_class_name(table), (models.Model,), attrs)


# Costs come in daily buckets only: their own table is already daily.
DAILY_TABLES: dict[str, type[models.Model]] = {
    s.type: _daily_table(s) for s in USAGE_STREAMS if set(s.bucket_widths) - {"1d"}
}


class DirectoryEntry(models.Model):
    """A directory row of a connector's organization, kept fresh by its runs.

    A row that disappears upstream keeps its name and gets `removedAt`, so old usage
    still shows names (deleted keys, removed users).
    """

    connector = models.ForeignKey(
        Connector, on_delete=models.CASCADE, db_column="connectorId", related_name="+"
    )
    row_id = models.BigAutoField(primary_key=True, db_column="rowId")
    openai_id = models.CharField(max_length=200, db_column="id")
    object = models.CharField(max_length=80)
    name = models.TextField(null=True, blank=True)
    first_fetched_at = models.DateTimeField(db_column="firstFetchedAt")
    last_fetched_at = models.DateTimeField(db_column="lastFetchedAt")
    removed_at = models.DateTimeField(null=True, blank=True, db_column="removedAt")
    extra = models.JSONField(null=True, blank=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.name or self.openai_id


def _epoch_column(column: str) -> models.DateTimeField:
    return models.DateTimeField(null=True, blank=True, db_column=column)


class ProjectEntry(DirectoryEntry):
    created_at = _epoch_column("createdAt")
    archived_at = _epoch_column("archivedAt")
    status = models.CharField(max_length=20, null=True, blank=True)

    class Meta:
        db_table = "projects"
        constraints = [
            models.UniqueConstraint(fields=["connector", "openai_id"], name="projects_natural_key")
        ]


class UserEntry(DirectoryEntry):
    email = models.TextField(null=True, blank=True)
    role = models.CharField(max_length=40, null=True, blank=True)
    added_at = _epoch_column("addedAt")
    is_service_account = models.BooleanField(null=True, blank=True, db_column="isServiceAccount")
    api_key_last_used_at = _epoch_column("apiKeyLastUsedAt")
    # The user's projects as OpenAI lists them: [{"id", "name", "role"}, ...].
    projects = models.JSONField(null=True, blank=True)

    class Meta:
        db_table = "users"
        constraints = [
            models.UniqueConstraint(fields=["connector", "openai_id"], name="users_natural_key")
        ]


class ApiKeyEntry(DirectoryEntry):
    redacted_value = models.CharField(
        max_length=80, null=True, blank=True, db_column="redactedValue"
    )
    created_at = _epoch_column("createdAt")
    last_used_at = _epoch_column("lastUsedAt")
    expires_at = _epoch_column("expiresAt")
    project_id = models.CharField(max_length=200, db_column="projectId")
    owner_type = models.CharField(max_length=40, null=True, blank=True, db_column="ownerType")
    owner_id = models.CharField(max_length=200, null=True, blank=True, db_column="ownerId")
    owner_name = models.TextField(null=True, blank=True, db_column="ownerName")

    class Meta:
        db_table = "apiKeys"
        constraints = [
            models.UniqueConstraint(
                fields=["connector", "project_id", "openai_id"], name="apikeys_natural_key"
            )
        ]


class ServiceAccountEntry(DirectoryEntry):
    project_id = models.CharField(max_length=200, db_column="projectId")
    role = models.CharField(max_length=40, null=True, blank=True)
    created_at = _epoch_column("createdAt")

    class Meta:
        db_table = "serviceAccounts"
        constraints = [
            models.UniqueConstraint(
                fields=["connector", "project_id", "openai_id"], name="serviceaccounts_natural_key"
            )
        ]


DIRECTORY_TABLES: dict[str, type[DirectoryEntry]] = {
    "projects": ProjectEntry,
    "users": UserEntry,
    "api_keys": ApiKeyEntry,
}
assert set(DIRECTORY_TABLES) == {s.type for s in DIRECTORY_STREAMS}


def _daily_by_table(stream: UsageStream) -> type[models.Model]:
    """The daily rollup summed again per dimension: for each task, bucket width, UTC day
    and text dimension (`dimension`), one row per value of that dimension, with the value
    in its own column and the other dimensions NULL. A few hundred rows a day however
    many combinations there are, so totals, top lists and series over a year read
    thousands of rows, not millions; it answers any filter on at most one dimension."""
    attrs: dict = {
        "__module__": __name__,
        **_owners(),
        "day": models.DateField(),
        "bucket_width": models.CharField(max_length=2, db_column="bucketWidth"),
        "dimension": models.CharField(max_length=40),
        "row_count": models.BigIntegerField(db_column="rowCount"),
        "provisional_rows": models.BigIntegerField(db_column="provisionalRows"),
        "last_fetched_at": _last_fetched(),
    }
    for field in by_dimensions(stream):
        attrs[field] = models.TextField(db_column=field, null=True, blank=True)
    for field in stream.metrics:
        if field.type in NUMERIC:
            attrs[field.column] = _column(field)
    table = f"{stream.table}DailyBy"
    short = table.lower()[:18]
    indexes = [
        models.Index(fields=["connector", "dimension", "day"], name=f"{short}_conn_dim"),
        models.Index(fields=["task", "bucket_width", "day"], name=f"{short}_task_day"),
    ]
    attrs["Meta"] = type("Meta", (), {"db_table": table, "indexes": indexes})
    return type(_class_name(table), (models.Model,), attrs)


def by_dimensions(stream: UsageStream) -> list[str]:
    """The dimensions `{table}DailyBy` sums by: the text ones (not `batch`)."""
    return [f.column for f in stream.dimensions if f.type == "str"]


DAILY_BY_TABLES: dict[str, type[models.Model]] = {
    s.type: _daily_by_table(s) for s in USAGE_STREAMS if s.type in DAILY_TABLES
}
