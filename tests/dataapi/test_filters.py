"""The `filter` parameter over HTTP: every operator, and/or nesting and NULL tests select
exactly the rows Python selects from the table; a malformed filter is a 400 in words."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from connectors.models import USAGE_TABLES, ProjectEntry, UserEntry
from tests.dataapi.conftest import get


def ids(api, secret, table: str, condition, key: str = "id") -> set:
    answer = get(api, secret, table, page_size=10_000, filter=json.dumps(condition))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["next"] is None
    return {row[key] for row in body["data"]}


def test_it_selects_with_every_operator_and_null_test(api, secret, collected):
    rows = list(USAGE_TABLES["completions"].objects.values())
    models = sorted({r["model"] for r in rows if r["model"]})
    model = max(models, key=lambda m: sum(r["model"] == m for r in rows))
    tokens = sorted(r["inputTokens"] for r in rows)[len(rows) // 2]
    day = datetime(2026, 10, 21, tzinfo=UTC)
    cases = [
        (["model", "=", model], lambda r: r["model"] == model),
        (["model", "<>", model], lambda r: r["model"] != model),
        (["model", "!=", model], lambda r: r["model"] != model),
        (["inputTokens", ">", tokens], lambda r: r["inputTokens"] > tokens),
        (["inputTokens", ">=", tokens], lambda r: r["inputTokens"] >= tokens),
        (["inputTokens", "<", tokens], lambda r: r["inputTokens"] < tokens),
        (["inputTokens", "<=", tokens], lambda r: r["inputTokens"] <= tokens),
        (["model", "contains", "MINI"], lambda r: "mini" in (r["model"] or "").lower()),
        (["model", "startswith", "GPT-4O"], lambda r: (r["model"] or "").startswith("gpt-4o")),
        (["userId", "=", None], lambda r: r["userId"] is None),
        (["userId", "<>", None], lambda r: r["userId"] is not None),
        (["userId", "!=", None], lambda r: r["userId"] is not None),
        (["batch", "=", True], lambda r: r["batch"] is True),
        (["startTime", ">=", "2026-10-21"], lambda r: r["start_time"] >= day),
        (["startTime", "<", "2026-10-21T00:00:00Z"], lambda r: r["start_time"] < day),
        (["startTime", "=", "2026-10-21T02:00:00+02:00"], lambda r: r["start_time"] == day),
    ]
    for condition, wanted in cases:
        expected = {r["id"] for r in rows if wanted(r)}
        assert expected, condition  # every case selects something...
        assert ids(api, secret, "completions", condition) == expected, condition
    assert {r["id"] for r in rows if r["userId"] is None} != {r["id"] for r in rows}  # ...not all


def test_it_combines_conditions_with_and_and_or_nested(api, secret, collected):
    rows = list(USAGE_TABLES["completions"].objects.values())
    model = rows[0]["model"]
    project = rows[-1]["projectId"]
    a, b = ["model", "=", model], ["projectId", "=", project]
    c = ["batch", "=", False]
    cases = [
        ([a, "and", b], lambda r: r["model"] == model and r["projectId"] == project),
        ([a, "or", b], lambda r: r["model"] == model or r["projectId"] == project),
        (
            [a, "or", [b, "and", c]],
            lambda r: r["model"] == model or (r["projectId"] == project and r["batch"] is False),
        ),
        (
            [[a, "or", b], "and", c],
            lambda r: (r["model"] == model or r["projectId"] == project) and r["batch"] is False,
        ),
        (
            [a, "AND", b, "and", c],
            lambda r: r["model"] == model and r["projectId"] == project and r["batch"] is False,
        ),
    ]
    for condition, wanted in cases:
        expected = {r["id"] for r in rows if wanted(r)}
        assert expected, condition
        assert ids(api, secret, "completions", condition) == expected, condition


@pytest.mark.parametrize(
    "value, shown", [('"1e999"', '"1e999"'), ('"1e-20000"', '"1e-20000"'), ("1e-20000", "1E-20000")]
)
def test_it_answers_400_for_a_decimal_beyond_any_column(api, secret, value, shown):
    answer = get(api, secret, "costs", filter=f'["amountValue",">",{value}]')
    assert answer.status_code == 400
    assert f"{shown} is not a number, the type of amountValue" in answer.json()["error"]


def test_it_reads_a_json_number_as_exactly_as_the_decimal_column_holds_it(api, secret, collected):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("SQLite keeps decimals as floating-point numbers: 18 digits cannot compare")
    costs = list(USAGE_TABLES["costs"].objects.values())
    stored = max((r["amountValue"] for r in costs), key=lambda v: len(str(v.normalize())))
    written = stored - Decimal("1e-15")  # 18 decimals: a float rounds it to `stored`
    assert Decimal(float(written)) != written
    expected = {r["id"] for r in costs if r["amountValue"] > written}
    as_float = {r["id"] for r in costs if r["amountValue"] > Decimal(float(written))}
    assert stored in {r["amountValue"] for r in costs if r["id"] in expected - as_float}
    assert ids(api, secret, "costs", ["amountValue", ">", str(written)]) == expected
    number = f'["amountValue",">",{written}]'  # a JSON number, not a string
    answer = get(api, secret, "costs", page_size=10_000, filter=number)
    assert {row["id"] for row in answer.json()["data"]} == expected


def test_it_filters_decimals_text_and_the_directory(api, secret, collected):
    costs = list(USAGE_TABLES["costs"].objects.values())
    cent = Decimal("0.01")
    expected = {r["id"] for r in costs if r["amountValue"] > cent}
    assert 0 < len(expected) < len(costs)
    assert ids(api, secret, "costs", ["amountValue", ">", "0.01"]) == expected
    assert ids(api, secret, "costs", ["amountValue", ">", 0.01]) == expected
    writes = {r["id"] for r in costs if ", cache write" in r["lineItem"]}
    assert writes and ids(api, secret, "costs", ["lineItem", "contains", ", cache write"]) == writes
    archived = set(ProjectEntry.objects.filter(archived_at__isnull=False).values_list("row_id"))
    found = ids(api, secret, "projects", ["archivedAt", "<>", None], key="rowId")
    assert archived and found == {pk for (pk,) in archived}
    found = ids(api, secret, "projects", ["state", "=", "archived"], key="rowId")
    assert found == {pk for (pk,) in archived}
    one = UserEntry.objects.order_by("row_id").first()
    found = ids(api, secret, "users", ["email", "=", one.email], key="id")
    assert found == {one.openai_id}


DEEP = ["model", "=", "a"]
for _ in range(11):
    DEEP = [DEEP, "and", ["model", "=", "b"]]


@pytest.mark.parametrize(
    "text, words",
    [
        ("not json", "The filter is not valid JSON (Expecting value at character 1)."),
        ('{"model": "gpt-4o"}', "Expected a condition [column, operator, value] or a group"),
        ("[]", "Expected a condition [column, operator, value]"),
        ('["nope","=",1]', "completions has no column “nope”. Its columns: id, startTime"),
        ('["model","~","x"]', 'Unknown operator "~" in ["model", "~", "x"]; use one of ='),
        ('["inputTokens",">","many"]', '"many" is not an integer, the type of inputTokens'),
        ('["inputTokens",">",1.5]', "1.5 is not an integer, the type of inputTokens"),
        ('["model","=","gpt-4o",1]', "A condition is [column, operator, value];"),
        ('[["model","=","a"],"and"]', "expected an odd number"),
        ('[["model","=","a"],"xor",["model","=","b"]]', 'Expected "and" or "or"'),
        (
            '[["model","=","a"],"and",["model","=","b"],"or",["model","=","c"]]',
            'mixes "and" and "or" in one list: nest them',
        ),
        ('["model",">",null]', "null can only be tested with =, <> or !="),
        ('["inputTokens","contains","1"]', "contains works on text columns; inputTokens is an"),
        ('["projectName","=","Search"]', "cannot be filtered (str). Filter by projectId instead."),
        ('["startTime",">=","yesterday"]', "is not a date or date-time (ISO 8601"),
        ('["batch","=","maybe"]', '"maybe" is not true or false, the type of batch'),
        ('["extra","=","x"]', "The column extra cannot be filtered (json)."),
        ('["model","=",5]', "5 is not text (a JSON string), the type of model"),
        (json.dumps(DEEP), "The filter nests deeper than 10 levels."),
        ('["model","=","a\\u0000b"]', "is not text (a JSON string), the type of model"),
        ('["inputTokens",">",1e30]', "is not an integer, the type of inputTokens"),
        ("[" * 5000 + "]" * 5000, "The filter nests deeper than 10 levels."),
        ('["projectId","=","\\ud800"]', '"\\ud800"] holds text that is not Unicode'),
        ('["\\ud800","=",1]', "holds text that is not Unicode (a lone surrogate such as"),
        ('["model","\\ud800","x"]', '["model", "\\ud800", "x"] holds text that is not Unicode'),
        ('[["model","=","a"],"\\ud800",["model","=","b"]]', 'found "\\ud800".'),
        ('{"\\udc00": 1}', "Expected a condition [column, operator, value] or a group"),
    ],
)
def test_it_answers_400_in_words_for_a_malformed_filter(api, secret, text, words):
    answer = get(api, secret, "completions", filter=text)
    assert answer.status_code == 400
    assert answer.headers["Content-Type"] == "application/json"
    assert words in answer.json()["error"]
