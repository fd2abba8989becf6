"""A usage row's key stands for its non-null dimensions by name, so that a dimension the
registry gains never duplicates the rows collected before it."""

from __future__ import annotations

import dataclasses
import importlib
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone

from connectors.models import DAILY_TABLES, USAGE_TABLES
from connectors.openai.persistence import key_text, row_key, row_key_sql
from connectors.openai.streams import STREAMS
from tests.collection.conftest import run_now, table_rows, truth_rows
from tests.fixtures_emulator import EMULATOR_NOW

rekeying = importlib.import_module("connectors.migrations.0012_row_key_pairs")

T0 = datetime.fromtimestamp(EMULATOR_NOW, UTC)

# Values OpenAI could send as dimensions, chosen for what JSON printers disagree on.
TRICKY = [
    'say "hi"',
    "back\\slash and \\u0041",
    "é ümlaut 日本語 ☃ 😀",
    "tab\tnew\nline\rcr\bbs\fff",
    "ctrl \x01 \x1f \x7f",
    "line sep \u2028 para \u2029",
    "",
    "ft-gpt-4o-2024-08-06, input",
]


def dims_of(stream_type: str, row: dict) -> dict:
    return {d.api: row[d.column] for d in STREAMS[stream_type].dimensions}


def test_it_prints_the_key_as_postgres_prints_a_jsonb_object():
    dims = {"project_id": "p", "model": "m", "batch": False, "user_id": None, "size": "s"}
    # jsonb: keys by length, then bytewise; NULLs stripped.
    assert key_text(dims) == '{"size": "s", "batch": false, "model": "m", "project_id": "p"}'
    assert key_text({"project_id": None}) == "{}"


@pytest.mark.parametrize("value", TRICKY)
def test_it_computes_the_same_key_in_python_and_in_postgres(db, value):
    if connection.vendor != "postgresql":
        pytest.skip("the SQL key is Postgres's")
    dims = {"project_id": value, "model": value[::-1], "batch": True, "user_id": None}
    casts = {"project_id": "text", "model": "text", "batch": "boolean", "user_id": "text"}
    sql = row_key_sql({name: f"%s::{cast}" for name, cast in casts.items()})
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {sql}, jsonb_strip_nulls(jsonb_build_object(%s, %s))::text",
                       [*dims.values(), "v", value])  # fmt: skip
        key, printed = cursor.fetchone()
    assert key == row_key(dims)
    assert printed == key_text({"v": value})


def historical_apps():
    """The models as the migration sees them: the state before it."""
    return MigrationLoader(connection).project_state(("connectors", "0011_coverage")).apps


def rekey(direction) -> None:
    direction(historical_apps(), SimpleNamespace(connection=connection))


def old_key(stream_type: str, row: dict):
    """The key before the migration: every dimension of the stream as it was then."""
    model = historical_apps().get_model("connectors", USAGE_TABLES[stream_type].__name__)
    columns = {f.column for f in model._meta.concrete_fields}
    fields = [d for d in STREAMS[stream_type].dimensions if d.column in columns]
    return rekeying.old_row_key({d.api: row.get(d.column) for d in fields})


def test_it_rekeys_tricky_values_alike_on_every_database(task):
    """Rows written with the old keys get, on Postgres in SQL and on SQLite in Python,
    exactly the keys the collector now computes; backwards they get the old ones again."""
    model = USAGE_TABLES["completions"]
    now = timezone.now()
    combos = [(v, b) for v in [*TRICKY, None] for b in (True, False, None)]
    for i, (value, batch) in enumerate(combos):
        dims = {"projectId": value, "model": f"m{i}", "batch": batch, "serviceTier": value}
        model.objects.create(
            task=task, connector_id=task.connector_id, start_time=now, end_time=now,
            bucket_width="1h", row_key=old_key("completions", dims), object="x",
            first_fetched_at=now, last_fetched_at=now, last_changed_at=now,
            **dims,
        )  # fmt: skip
    stored = list(model.objects.filter(task=task).values())

    rekey(rekeying.forward)
    keys = dict(model.objects.filter(task=task).values_list("id", "row_key"))
    assert keys == {r["id"]: row_key(dims_of("completions", r)) for r in stored}

    rekey(rekeying.backward)
    keys = dict(model.objects.filter(task=task).values_list("id", "row_key"))
    assert keys == {r["id"]: r["row_key"] for r in stored}


def test_a_run_after_the_migration_updates_the_old_rows_in_place(make_task, emulator):
    """A table collected under the old keys (rows and daily rollups), migrated: the next
    run finds every row it re-reads and inserts none of them again."""
    task = make_task(
        "completions", StartTime="2026-10-20", EndTime="2026-10-22", BucketWidth="1h",
        GroupBy=["project_id", "model", "batch"],
    )  # fmt: skip
    first = run_now(task)
    assert first.status == "succeeded", first.error
    model, daily = USAGE_TABLES["completions"], DAILY_TABLES["completions"]
    rekey(rekeying.backward)  # as a database collected before this change holds them
    held = list(model.objects.filter(task=task).values())
    assert all(r["row_key"] == old_key("completions", r) for r in held)
    assert all(r["row_key"] != row_key(dims_of("completions", r)) for r in held)

    rekey(rekeying.forward)
    for table in (model, daily):
        rows = table.objects.filter(task=task).values()
        assert rows and all(r["row_key"] == row_key(dims_of("completions", r)) for r in rows)

    second = run_now(task)
    assert second.status == "succeeded", second.error
    assert second.rows_inserted == 0
    assert second.rows_updated + second.rows_unchanged == first.rows_inserted
    assert table_rows(task, "completions") == truth_rows(emulator, task, "completions")


def test_a_dimension_the_registry_gains_never_duplicates_rows(make_task, emulator, monkeypatch):
    """Collected while the registry lacked the stream's last dimension (as it lacked
    api_source before 2026), re-read after it gained it: the re-read rows are updated in
    place, only the new buckets' rows are inserted, and the table equals the truth."""
    stream = STREAMS["completions"]
    fewer = dataclasses.replace(stream, group_by=stream.group_by[:-1])
    start = (T0 - timedelta(hours=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    task = make_task("completions", StartTime=start, BucketWidth="1h", GroupBy=["model"])

    with monkeypatch.context() as patched:
        patched.setitem(STREAMS, "completions", fewer)
        first = run_now(task)
        assert first.status == "succeeded", first.error
    before = set(table_rows(task, "completions"))

    emulator.advance(2 * 3600)
    second = run_now(task)
    assert second.status == "succeeded", second.error
    truth = truth_rows(emulator, task, "completions")
    assert table_rows(task, "completions") == truth  # no row twice, sums as OpenAI's
    assert second.rows_updated + second.rows_unchanged > 0  # it did re-read held rows
    assert second.rows_inserted == len(set(truth) - before)
    assert USAGE_TABLES["completions"].objects.filter(task=task).count() == len(truth)
