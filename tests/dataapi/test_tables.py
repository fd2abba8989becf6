"""Every table over HTTP: JSON and CSV alike, equal to the table's rows (and to the
emulator's numbers), read to the end by page numbers and by cursor; names as the table
pages show them; the OpenAPI description follows the registry."""

from __future__ import annotations

import base64
import csv
import io
import json
from datetime import datetime
from decimal import Decimal

import pytest

from connectors.dataapi.tables import tables
from connectors.explore import directory
from connectors.models import USAGE_TABLES, ApiKeyEntry, ProjectEntry
from connectors.openai.streams import USAGE_STREAMS
from tests.collection.conftest import truth_rows
from tests.dataapi.conftest import get


def typed(kind: str, value):
    """A JSON value back as the database's type."""
    if value is None:
        return None
    if kind == "time":
        return datetime.fromisoformat(value)
    if kind == "decimal":
        return Decimal(value)
    return value


def db_rows(name: str) -> list[dict]:
    """The table's stored columns, read with the ORM, in row id order."""
    table = tables()[name]
    stored = [c for c in table.columns if c.field]
    found = table.rows().order_by(table.pk).values_list(*[c.field for c in stored])
    return [{c.name: v for c, v in zip(stored, row, strict=True)} for row in found]


def api_rows(rows: list[dict], name: str) -> list[dict]:
    table = tables()[name]
    return [{c.name: typed(c.type, r[c.name]) for c in table.columns if c.field} for r in rows]


def as_csv_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    return str(value)


def test_it_serves_every_table_in_json_and_csv_equal_to_its_rows(api, secret, collected):
    assert set(tables()) == {s.table for s in USAGE_STREAMS} | set(directory.DIRECTORY_TABLES)
    for name, table in tables().items():
        answer = get(api, secret, name, page_size=10_000)
        assert answer.status_code == 200, name
        body = answer.json()
        assert (body["page"], body["page_size"], body["next"]) == (1, 10_000, None)
        expected = db_rows(name)
        assert expected, f"{name} collected nothing"
        assert api_rows(body["data"], name) == expected, name
        assert list(body["data"][0]) == [c.name for c in table.columns]
        text = get(api, secret, name, page_size=10_000, format="csv")
        assert text.headers["Content-Type"] == "text/csv; charset=utf-8"
        lines = list(csv.reader(io.StringIO(text.text)))
        assert lines[0] == [c.name for c in table.columns], name
        json_lines = [[as_csv_text(v) for v in row.values()] for row in body["data"]]
        assert lines[1:] == json_lines, name
        by_accept = api.get(
            f"/v1/resultDatabase/{name}/paged",
            params={"page_size": 10_000},
            headers={"ApiKey": secret, "Accept": "text/csv"},
        )
        assert by_accept.text == text.text


def test_its_usage_numbers_are_the_emulators(api, secret, collected, emulator):
    for stream in USAGE_STREAMS:
        rows = get(api, secret, stream.table, page_size=10_000).json()["data"]
        truth = truth_rows(emulator, collected, stream.type)
        found = {}
        for row in rows:
            start = int(datetime.fromisoformat(row["startTime"]).timestamp())
            dims = tuple(row[d.column] for d in stream.dimensions)
            values = {}
            for f in stream.metrics:
                value = row[f.column]
                values[f.column] = Decimal(value) if f.type == "decimal" and value else value
            found[(start, dims)] = values
        assert found == truth, stream.type


def test_it_names_projects_users_keys_connector_and_task(api, secret, collected, live_connector):
    rows = get(api, secret, "completions", page_size=10_000).json()["data"]
    projects = {p.openai_id: p for p in ProjectEntry.objects.all()}
    keys = {k.openai_id: k.name for k in ApiKeyEntry.objects.all()}
    assert any(r["projectId"] for r in rows) and any(r["apiKeyId"] for r in rows)
    for row in rows:
        project = projects.get(row["projectId"])
        if project is not None:
            suffix = " (archived)" if project.archived_at else ""
            assert row["projectName"] == project.name + suffix
        if row["apiKeyId"] in keys:
            assert row["apiKeyName"] == keys[row["apiKeyId"]]
        assert row["connectorName"] == "Emulated org"
        assert (row["taskId"], row["taskName"]) == (collected.pk, "Everything")
        assert row["connectorId"] == live_connector.pk


def read_by_pages(api, secret, table: str, size: int) -> list[dict]:
    found, page = [], 1
    while True:
        body = get(api, secret, table, page=page, page_size=size).json()
        assert body["page"] == page
        if not body["data"]:
            return found
        found += body["data"]
        page += 1


def read_by_cursor(api, secret, table: str, size: int) -> list[dict]:
    body = get(api, secret, table, page_size=size).json()
    found, pages = list(body["data"]), [body["page"]]
    while body["next"]:
        body = api.get(body["next"], headers={"ApiKey": secret}).json()
        found += body["data"]
        pages.append(body["page"])
    assert pages == list(range(1, len(pages) + 1))
    return found


@pytest.mark.parametrize("name", ["completions", "costs", "users"])
def test_it_reads_to_the_end_by_page_numbers_and_by_cursor(api, secret, collected, name):
    expected = db_rows(name)
    size = max(1, len(expected) // 7)  # a few pages, the last one short or full
    by_pages = read_by_pages(api, secret, name, size)
    by_cursor = read_by_cursor(api, secret, name, size)
    assert api_rows(by_pages, name) == expected
    assert by_cursor == by_pages


def test_it_reads_csv_to_the_end_by_its_link_header(api, secret, collected):
    expected = [str(r["id"]) for r in db_rows("costs")]
    answer = get(api, secret, "costs", page_size=50, format="csv")
    found = []
    while True:
        lines = list(csv.reader(io.StringIO(answer.text)))
        found += [line[0] for line in lines[1:]]
        if "next" not in answer.links:
            break
        answer = api.get(answer.links["next"]["url"], headers={"ApiKey": secret})
    assert found == expected and len(found) > 50


def test_it_filters_while_reading_by_cursor(api, secret, collected):
    condition = json.dumps(["model", "startswith", "gpt-4o"])
    rows = USAGE_TABLES["completions"].objects.filter(model__startswith="gpt-4o")
    expected = list(rows.order_by("id").values_list("id", flat=True))
    body = get(api, secret, "completions", page_size=5, filter=condition).json()
    found = [r["id"] for r in body["data"]]
    while body["next"]:
        assert "filter=" in body["next"]
        body = api.get(body["next"], headers={"ApiKey": secret}).json()
        found += [r["id"] for r in body["data"]]
    assert found == expected and len(found) > 5


def cursor(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "params, status, words",
    [
        ({"page_size": 0}, 400, "page_size must be from 1 to 10,000; it was 0."),
        ({"page_size": 10_001}, 400, "page_size must be from 1 to 10,000; it was 10,001."),
        ({"page": "two"}, 400, "page must be a whole number, not “two”."),
        ({"format": "xml"}, 400, "format must be json or csv, not “xml”."),
        ({"pagesize": 5}, 400, "Unknown parameter pagesize; this endpoint takes connector,"),
        ({"cursor": "bm9wZQ"}, 400, "This cursor was not written by this API; start again."),
        ({"cursor": "eyJhZnRlciI6MywicGFnZSI6Mn0", "page": 2}, 400, "Give page or cursor"),
        ({"connector": "x"}, 400, "connector must be a whole number"),
        ({"page": 10**10}, 400, "page must be from 1 to 1,000,000,000; it was 10,000,000,000."),
        ({"connector": 10**20}, 400, "connector must be from 1 to"),
        ({"connector": 999_999}, 404, "No connector 999999 for this key."),
        ({"cursor": cursor(b"[" * 3000 + b"]" * 3000)}, 400, "This cursor was not written"),
        ({"cursor": cursor(b'{"after":3,"page":99999999999999999999999}')}, 400, "This cursor"),
        ({"cursor": cursor(b'{"after":3,"page":1000000001}')}, 400, "This cursor was not"),
        ({"cursor": cursor(b'{"after":9223372036854775808,"page":2}')}, 400, "This cursor"),
    ],
)
def test_it_answers_bad_parameters_in_words(api, secret, params, status, words):
    answer = get(api, secret, "completions", **params)
    assert answer.status_code == status
    assert answer.json() == {"error": words, "status": status} or words in answer.json()["error"]


def test_it_answers_404_for_an_unknown_table(api, secret):
    answer = get(api, secret, "completion")
    assert answer.status_code == 404
    assert answer.json()["error"] == "No table named “completion”: see /v1/openapi.json."


def test_its_openapi_description_lists_every_table_and_column(api, transactional_db):
    document = api.get("/v1/openapi.json").json()
    paths = document["paths"]
    assert set(paths) == {f"/v1/resultDatabase/{t}/paged" for t in tables()} | {"/v1/focus/costs"}
    assert paths["/v1/focus/costs"]["get"]["responses"]["200"]["content"].keys() == {"text/csv"}
    schemas = document["components"]["schemas"]
    for stream in USAGE_STREAMS:
        row = schemas[stream.table[0].upper() + stream.table[1:] + "Row"]["properties"]
        for f in (*stream.dimensions, *stream.metrics):
            assert f.column in row, (stream.table, f.column)
        assert {"projectId", "connectorName", "taskName", "startTime"} <= set(row)
    costs = schemas["CostsRow"]["properties"]
    assert costs["amountValue"]["format"] == "decimal"
    assert document["components"]["securitySchemes"]["ApiKey"]["name"] == "ApiKey"


def test_a_query_past_the_statement_timeout_is_a_503_in_words(api, secret, settings):
    """Another session holds the table locked: the page's query waits, and the statement
    timeout ends it (without one, the request would wait as long as the lock)."""
    import psycopg
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the statement timeout is Postgres's (SQLite has none)")
    settings.DATA_API_STATEMENT_TIMEOUT_SECONDS = 0.5
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params) as holder:
        holder.execute('LOCK TABLE "costs" IN ACCESS EXCLUSIVE MODE')
        answer = get(api, secret, "costs")
        holder.rollback()
    assert answer.status_code == 503
    assert answer.json()["error"].startswith("The query took too long; filter on startTime")
    assert get(api, secret, "costs").status_code == 200


def test_its_csv_writes_a_formula_like_name_as_text(api, secret, collected):
    """Any project member can name a project; a spreadsheet opening the CSV must not run it.
    JSON, read by programs, keeps the name as it is."""
    used = USAGE_TABLES["completions"].objects.exclude(projectId=None)
    project = ProjectEntry.objects.get(openai_id=used.values_list("projectId", flat=True)[0])
    project.name = '=HYPERLINK("http://evil.example/","open")'
    project.save()
    json_row = next(
        r
        for r in get(api, secret, "projects", page_size=10_000).json()["data"]
        if r["id"] == project.openai_id
    )
    assert json_row["name"] == project.name
    for table, id_column, name_column in (
        ("projects", "id", "name"),
        ("completions", "projectId", "projectName"),
    ):
        text = get(api, secret, table, page_size=10_000, format="csv").text
        names = {
            line[name_column]
            for line in csv.DictReader(io.StringIO(text))
            if line[id_column] == project.openai_id
        }
        assert names and all(n.startswith("'=HYPERLINK(") for n in names), (table, names)


def test_no_cache_keeps_an_answer_or_serves_it_to_another_key(api, secret):
    answers = [
        get(api, secret, "completions"),
        get(api, secret, "completions", page=0),
        get(api, "dh_000000000000_wrong", "completions"),
        api.get("/v1/focus/costs", headers={"ApiKey": secret}),
        api.get("/v1/focus/costs", params={"start": "never"}, headers={"ApiKey": secret}),
    ]
    assert [a.status_code for a in answers] == [200, 400, 401, 200, 400]
    for answer in answers:
        assert answer.headers["Cache-Control"] == "no-store"
        varies = {v.strip().lower() for v in answer.headers["Vary"].split(",")}
        assert {"apikey", "authorization"} <= varies
