"""What the Data API serves: every output table and its columns, derived from the
registry the table pages use (the usage streams, `explore.directory`'s tables), so a
new stream or directory table is served, filterable and documented by itself.

A column is stored (a field of the table's model: filterable) or derived (a name read
from the directory, the connector's or task's name: shown, not filterable). Rows are
always ordered by the table's primary key, the one order a cursor can resume in
constant time on any table.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from django.db import models
from django.db.models import Case, CharField, Value, When

from connectors.explore import directory
from connectors.explore.datatables import usage_streams
from connectors.explore.names import NAMED, name_column
from connectors.models import USAGE_TABLES


@dataclass(frozen=True)
class Column:
    name: str  # as the API names it (the table's camelCase column)
    field: str  # the model field or annotation it reads ("" for a derived name)
    type: str  # int, decimal, float, bool, str, time, json
    filterable: bool = True
    about: str = ""


@dataclass(frozen=True)
class Table:
    name: str
    model: type[models.Model]
    kind: str  # "usage" or "directory"
    columns: tuple[Column, ...]
    pk: str  # the primary key field: the order of every answer

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    @property
    def has_task(self) -> bool:
        return self.kind == "usage"

    def rows(self):
        """Every row of the table, with the annotations its columns read."""
        if self.kind == "directory":
            return self.model.objects.annotate(state=_state(self.model))
        return self.model.objects.all()


def _state(model) -> Case:
    """A directory entry's state, as its table page shows it."""
    archived = models.Q(pk__in=[])
    if any(f.name == "archived_at" for f in model._meta.concrete_fields):
        archived = models.Q(archived_at__isnull=False, removed_at__isnull=True)
    return Case(
        When(removed_at__isnull=False, then=Value("removed")),
        When(archived, then=Value("archived")),
        default=Value("active"),
        output_field=CharField(),
    )


_TYPES = {
    "BigIntegerField": "int",
    "BigAutoField": "int",
    "AutoField": "int",
    "IntegerField": "int",
    "PositiveIntegerField": "int",
    "ForeignKey": "int",
    "DecimalField": "decimal",
    "FloatField": "float",
    "BooleanField": "bool",
    "DateTimeField": "time",
    "JSONField": "json",
}


def _stored(field: models.Field, about: str = "") -> Column:
    kind = _TYPES.get(field.get_internal_type(), "str")
    name = field.column
    return Column(name, field.attname, kind, filterable=kind != "json", about=about)


def _derived(name: str, about: str) -> Column:
    return Column(name, "", "str", filterable=False, about=about)


_OURS = ("first_fetched_at", "last_fetched_at", "last_changed_at", "extra")


def _usage_table(stream) -> Table:
    model = USAGE_TABLES[stream.type]
    fields = {f.column: f for f in model._meta.concrete_fields}
    dims = [f.column for f in stream.dimensions]
    columns = [
        _stored(fields["id"], "The row's id: answers are ordered by it."),
        _stored(fields["startTime"], "The bucket's start (UTC)."),
        _stored(fields["endTime"], "The bucket's end (UTC)."),
        _stored(fields["bucketWidth"]),
    ]
    columns += [_stored(fields[c]) for c in dims]
    columns += [
        _derived(name_column(c), f"The directory's name of {c}.") for c in NAMED if c in dims
    ]
    columns += [_stored(fields[f.column]) for f in stream.metrics]
    columns += [
        _stored(fields["object"]),
        _stored(fields["provisional"], "OpenAI may still revise this bucket."),
        _stored(fields["connectorId"], "The connector (organization) the row comes from."),
        _derived("connectorName", "The connector's name."),
        _stored(fields["taskId"], "The task that collected the row."),
        _derived("taskName", "The task's name."),
    ]
    columns += [_stored(f) for f in model._meta.concrete_fields if f.name in _OURS]
    return Table(stream.table, model, "usage", tuple(columns), "id")


def _directory_table(name: str, model) -> Table:
    fields = {f.name: f for f in model._meta.concrete_fields}
    shown = []
    for column in directory.columns(name):
        if column.field == "state":
            about = "active, archived (projects) or removed (no longer listed by OpenAI)."
            shown.append(Column("state", "state", "str", about=about))
        else:
            shown.append(_stored(fields[column.field]))
    columns = [
        _stored(fields["row_id"], "The entry's row id: answers are ordered by it."),
        *shown,
        _stored(fields["connector"], "The connector (organization) the entry belongs to."),
        _derived("connectorName", "The connector's name."),
    ]
    return Table(name, model, "directory", tuple(columns), "row_id")


@cache
def tables() -> dict[str, Table]:
    """Every table the API serves, by name: the usage tables, then the directory."""
    found = {s.table: _usage_table(s) for s in usage_streams()}
    for name, (model, _) in directory.DIRECTORY_TABLES.items():
        found[name] = _directory_table(name, model)
    return found
