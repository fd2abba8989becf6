"""Export CSV never hands a spreadsheet a formula: names come from the organization's
members (anyone in a project may name a key `=HYPERLINK(…)`), so a text cell that begins
with =, +, -, @, a tab or a CR is written with a single quote first, on both ways of
writing the CSV. Numbers are not text: they stay exactly as collected, a negative one too.

The emulator's HOSTILE_SEED organization names its first projects, users and keys so."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone

from connectors.explore import datatables, export
from connectors.models import USAGE_TABLES, Connector, Task
from connectors.openai.emulator.org import HOSTILE_NAMES, HOSTILE_SEED
from connectors.openai.plan import stream_queries
from connectors.openai.streams import STREAMS
from tests.collection.conftest import run_now

HOSTILE_KEY = "sk-admin-hostile-names-org"
FORMULA = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture
def hostile(db, emulator, emulator_server) -> Connector:
    """A connector on the emulator's organization of hostile names, its directory read."""
    emulator.add_key(HOSTILE_KEY, seed=HOSTILE_SEED)
    connector = Connector(
        kind="openai", name="Hostile org", base_url=emulator_server.base_url, requests_per_minute=0
    )
    connector.set_admin_key(HOSTILE_KEY)
    connector.save()
    for query_type, parameters in (
        ("projects", {"IncludeArchived": True}),
        ("users", {}),
        ("api_keys", {}),
    ):
        assert run_now(collect(connector, query_type, **parameters)).status == "succeeded"
    return connector


def collect(connector: Connector, query_type: str, **parameters) -> Task:
    params = {"type": query_type} | {f"{query_type}-{k}": v for k, v in parameters.items()}
    return Task.objects.create(connector=connector, query_type=query_type, parameters=params)


def inert(name: str) -> str:
    """A name as the CSV must hold it (the rule written out, not the code's own)."""
    return "'" + name if name[:1] in FORMULA else name


def truth(emulator, task: Task, stream_type: str) -> dict:
    """The hostile organization's ground truth of a task's stream, keyed like the CSV."""
    query = next(
        q for q in stream_queries(task.query_type, task.parameters) if q.stream.type == stream_type
    )
    stream = query.stream
    buckets = emulator.ground_truth(
        stream_type,
        start=int(query.start.timestamp()),
        end=int(query.end.timestamp()),
        bucket_width=query.width,
        group_by=query.group_by,
        seed=HOSTILE_SEED,
    )
    rows = {}
    for bucket in buckets:
        for result in bucket["results"]:
            key = (bucket["start_time"], tuple(result.get(d.api) or "" for d in stream.dimensions))
            values = {}
            for field in stream.metrics:
                value = result
                for part in field.api.split("."):
                    value = (value or {}).get(part)
                values[field.column] = "" if value is None else Decimal(str(value))
            rows[key] = values
    return rows


def exported(client, connector: Connector, table: str, query: str = "preset=all") -> list[dict]:
    url = reverse("connectors:table-export", args=[connector.pk, table])
    response = client.get(f"{url}?{query}")
    assert response.status_code == 200 and response.streaming
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_it_exports_hostile_names_as_text_and_every_number_as_collected(
    staff_client, hostile, emulator
):
    task = collect(
        hostile,
        "completions",
        StartTime="2026-09-01",
        EndTime="2026-10-01",
        BucketWidth="1d",
        GroupBy=["project_id", "user_id", "api_key_id"],
    )
    assert run_now(task).status == "succeeded"
    *lines, totals = exported(staff_client, hostile, "completions")
    directory = emulator.directory_truth(seed=HOSTILE_SEED)
    names = {
        "projectId": {p["id"]: p["name"] for p in directory["projects"]},
        "userId": {u["id"]: u["name"] for u in directory["users"]},
        "apiKeyId": {k["id"]: k["name"] for ks in directory["api_keys"].values() for k in ks},
    }
    hostile_cells = 0
    for line in lines:
        for column, named in names.items():
            cell = line[column[:-2] + "Name"]
            assert cell[:1] not in FORMULA, (column, cell)  # nothing a spreadsheet runs
            name = named.get(line[column])
            if name and name in HOSTILE_NAMES:
                assert cell.startswith(inert(name)), (column, cell)  # " (archived)" may follow
                hostile_cells += 1
    assert {line["projectName"][:1] for line in lines} >= {"'"}
    assert hostile_cells > len(lines)  # most rows name a hostile project, user or key
    stream = STREAMS["completions"]
    found = {
        (
            int(datetime.fromisoformat(line["startTime"]).timestamp()),
            tuple(line[f.column] for f in stream.dimensions),
        ): {f.column: Decimal(line[f.column]) if line[f.column] else "" for f in stream.metrics}
        for line in lines
    }
    assert found == truth(emulator, task, "completions")
    assert totals["startTime"] == "totals"


def test_postgres_and_python_write_hostile_names_alike(hostile):
    if connection.vendor != "postgresql":
        pytest.skip("COPY … TO STDOUT is Postgres's")
    task = collect(
        hostile,
        "completions",
        StartTime="2026-09-01",
        EndTime="2026-09-08",
        BucketWidth="1d",
        GroupBy=["project_id", "user_id", "api_key_id", "model"],
    )
    assert run_now(task).status == "succeeded"
    hostile.refresh_from_db()
    for params in ("preset=all", "preset=all&sort=projectId", "preset=all&q=cmd"):
        query = datatables.parse_query(
            STREAMS["completions"], QueryDict(params), timezone.now().date()
        )
        rows = datatables.filtered(hostile, query)
        by_copy = b"".join(export.copied(hostile, query, rows)).decode()
        assert by_copy == "".join(export.written(hostile, query, rows)), params
        assert "'=HYPERLINK(" in by_copy and "'\t=1+2" in by_copy, params


def test_it_keeps_a_negative_amount_a_number_on_both_ways(staff_client, hostile, emulator):
    task = collect(
        hostile, "costs", StartTime="2026-09-01", EndTime="2026-09-08", GroupBy=["project_id"]
    )
    assert run_now(task).status == "succeeded"
    costs = USAGE_TABLES["costs"].objects.filter(task=task)
    credit = costs.order_by("start_time", "projectId").first()  # a credit, as OpenAI may report
    costs.filter(pk=credit.pk).update(amountValue=Decimal("-1.5"))
    when = credit.start_time.astimezone(UTC).isoformat()
    lines = exported(staff_client, hostile, "costs")[:-1]
    (line,) = [r for r in lines if r["startTime"] == when and r["projectId"] == credit.projectId]
    assert line["amountValue"] == "-1.5"
    projects = {p["id"]: p["name"] for p in emulator.directory_truth(seed=HOSTILE_SEED)["projects"]}
    for row in lines:
        name = projects[row["projectId"]]
        assert row["projectName"].startswith(inert(name)) and row["projectName"][:1] not in FORMULA
    query = datatables.parse_query(STREAMS["costs"], QueryDict("preset=all"), timezone.now().date())
    rows = datatables.filtered(hostile, query)
    written = "".join(export.written(hostile, query, rows))
    assert ",-1.5," in written and ",'-1.5," not in written


def test_it_exports_the_directory_with_hostile_names_as_text(staff_client, hostile, emulator):
    directory = emulator.directory_truth(seed=HOSTILE_SEED)
    projects = {r["id"]: r for r in exported(staff_client, hostile, "projects")}
    for project in directory["projects"]:
        row = projects[project["id"]]
        assert row["name"] == inert(project["name"])
        created = datetime.fromtimestamp(project["created_at"], UTC).isoformat()
        assert row["createdAt"] == created
    users = {r["id"]: r for r in exported(staff_client, hostile, "users")}
    assert {u: r["name"] for u, r in users.items()} == {
        u["id"]: inert(u["name"]) for u in directory["users"]
    }
    keys = {r["id"]: r for r in exported(staff_client, hostile, "apiKeys")}
    listed = [k for ks in directory["api_keys"].values() for k in ks]
    assert {k: r["name"] for k, r in keys.items()} == {k["id"]: inert(k["name"]) for k in listed}
    for key in listed:
        owner = key["owner"].get("user") or key["owner"].get("service_account") or {}
        assert keys[key["id"]]["ownerName"] == inert(owner.get("name") or "")
    cells = [c for r in (*projects.values(), *users.values(), *keys.values()) for c in r.values()]
    assert not [c for c in cells if c[:1] in FORMULA]
    assert sum(c.startswith("'") for c in cells) >= len(HOSTILE_NAMES) * 3
