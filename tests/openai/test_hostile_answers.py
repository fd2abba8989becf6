"""An answer that breaks the API's contract is refused in words: the endpoint, the field
and the value, with the offending piece of the answer kept as an excerpt for the run's
log; never a database error at COPY or UPDATE time, and nothing of the page written."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.db import transaction
from django.utils import timezone

from connectors.models import USAGE_TABLES
from connectors.openai.pages import ContractError
from connectors.openai.persistence import usage_rows
from connectors.openai.streams import STREAMS
from connectors.openai.writer import write_rows

START = int(datetime(2026, 9, 1, tzinfo=UTC).timestamp())
BIGINT = 2**63 - 1


def completion(**fields) -> dict:
    """A completions result as OpenAI sends it (required fields filled in)."""
    result = {
        "object": STREAMS["completions"].result_object,
        "model": "gpt-4o",
        "input_tokens": 10,
        "output_tokens": 5,
        "num_model_requests": 1,
    }
    return {k: v for k, v in {**result, **fields}.items() if v is not DROP}


def cost(value, **fields) -> dict:
    amount = {"value": value, "currency": "usd"}
    return {"object": STREAMS["costs"].result_object, "amount": amount, **fields}


DROP = object()  # a field left out of the result


def bucket(*results, start: int = START, end: int | None = None) -> dict:
    end = start + 3600 if end is None else end
    return {"object": "bucket", "start_time": start, "end_time": end, "results": list(results)}


def write(task, stream_type: str, *buckets):
    """usage_rows and the writer, as a run writes one page, in the page's transaction."""
    stream, model = STREAMS[stream_type], USAGE_TABLES[stream_type]
    width = "1d" if stream.floor_to_day else "1h"
    rows = usage_rows(stream, width, task.pk, task.connector_id, list(buckets), 0)
    with transaction.atomic():
        return write_rows(model, rows, timezone.now(), stream.path)


def refused(task, stream_type: str, *buckets) -> ContractError:
    """The ContractError the page gets; nothing of it is written."""
    with pytest.raises(ContractError) as caught:
        write(task, stream_type, *buckets)
    assert not USAGE_TABLES[stream_type].objects.filter(task=task).exists()
    error = caught.value
    assert error.excerpt and len(error.excerpt) <= 500
    return error


def says(error: ContractError, *words: str) -> None:
    message = str(error)
    for word in words:
        assert word in message, (word, message)


# A page with one good result and one that breaks the contract: (stream, the bad result,
# the words its refusal must hold: endpoint, field, value).
BREACHES = {
    "a token count beyond bigint": (
        "completions",
        completion(model="b", input_tokens=BIGINT + 1),
        ["/organization/usage/completions", "input_tokens", str(BIGINT + 1), "64-bit"],
    ),
    "a negative count beyond bigint": (
        "completions",
        completion(model="b", output_tokens=-(BIGINT + 2)),
        ["output_tokens", str(-(BIGINT + 2))],
    ),
    "a count beyond 2**64, parsed as a float": (
        "completions",
        completion(model="b", input_tokens=1.8446744073709552e19),
        ["input_tokens", str(2**64), "64-bit"],
    ),
    "an amount beyond numeric(38, 18)": (
        "costs",
        cost(1e25, line_item="b"),
        ["/organization/costs", "amount.value", "1e+25", "20 digits"],
    ),
    "an amount of 10**20, one digit too many": (
        "costs",
        cost(1e20, line_item="b"),
        ["amount.value", "1e+20", "20 digits"],
    ),
    "an amount that 15 significant digits (SQLite's) round to 10**20": (
        "costs",
        cost(10**20 - 1, line_item="b"),
        ["amount.value", str(10**20 - 1), "20 digits"],
    ),
    "a quantity given as text": (
        "costs",
        cost(1.5, line_item="b", quantity="12"),
        ["quantity", '"12"', "not a number"],
    ),
    "a missing required field": (
        "completions",
        completion(model="b", output_tokens=DROP),
        ["/organization/usage/completions", "output_tokens", "required"],
    ),
    "a required field null": (
        "completions",
        completion(model="b", num_model_requests=None),
        ["num_model_requests", "null", "required"],
    ),
    "a count given as text": (
        "completions",
        completion(model="b", input_tokens="12"),
        ["input_tokens", '"12"', "not an integer"],
    ),
    "a dimension given as a number": (
        "completions",
        completion(model=4),
        ["model", "=4", "not a string"],
    ),
    "a dimension given as an object": (
        "completions",
        completion(model={"id": "gpt"}),
        ["model", '{"id":"gpt"}', "not a string"],
    ),
    "batch as text": (
        "completions",
        completion(model="b", batch="yes"),
        ["batch", '"yes"', "true or false"],
    ),
    "a NUL in a dimension": (
        "completions",
        completion(model="gpt\x00b"),
        ["model", "gpt\\u0000b", "NUL"],
    ),
    "a NUL in a nested field": (
        "costs",
        {**cost(1.5, line_item="b"), "amount": {"value": 1.5, "currency": "us\x00d"}},
        ["/organization/costs", "amount.currency", "us\\u0000d", "NUL"],
    ),
    "a NUL in a field kept in extra": (
        "completions",
        completion(model="b", note="a\x00"),
        ["note", "NUL"],
    ),
    "an unknown dimension that tells two results apart": (
        "completions",
        completion(model="gpt-4o", region="eu"),
        ["/organization/usage/completions", "region", '"eu"', '"us"', "gpt-4o"],
    ),
    "a result that is not an object": (
        "completions",
        ["gpt-4o", 1],
        ["/organization/usage/completions", "results[]", '["gpt-4o",1]'],
    ),
}


@pytest.mark.parametrize("case", BREACHES, ids=list(BREACHES))
def test_it_refuses_a_result_that_breaks_the_contract_in_words(task, case):
    stream_type, bad, words = BREACHES[case]
    good = completion(region="us") if "region" in json.dumps(bad) else completion(model="a")
    if stream_type == "costs":
        good = cost(1.25, line_item="a")
    error = refused(task, stream_type, bucket(good, bad))
    says(error, *words)


def test_it_keeps_the_offending_result_as_the_excerpt(task):
    bad = completion(model="b", input_tokens=BIGINT + 1)
    error = refused(task, "completions", bucket(completion(), bad))
    assert json.loads(error.excerpt)["input_tokens"] == BIGINT + 1


def test_it_cuts_a_long_value_short_in_the_message_and_the_excerpt(task):
    bad = completion(model="x" * 10_000 + "\x00")
    error = refused(task, "completions", bucket(bad))
    assert len(str(error)) < 300
    assert error.excerpt.endswith("…") and len(error.excerpt) == 500


@pytest.mark.parametrize(
    ("times", "words"),
    [
        ({"start_time": "0"}, ["start_time", '"0"']),
        ({"end_time": 10**12}, ["end_time", str(10**12)]),
        ({"start_time": True}, ["start_time", "true"]),
        ({"end_time": START}, ["ending", str(START)]),
        ({"results": None}, ["results", "null", "not a list"]),
    ],
)
def test_it_refuses_a_bucket_that_breaks_the_contract(task, times, words):
    error = refused(task, "completions", {**bucket(completion()), **times})
    says(error, "/organization/usage/completions", *words)


def test_it_takes_the_largest_values_the_columns_hold(task):
    """The limits are the columns', not narrower: bigint's largest count and the largest
    amount with 20 digits before the point in SQLite's 15 significant digits are stored
    as sent."""
    write(task, "completions", bucket(completion(input_tokens=BIGINT, output_tokens=-BIGINT - 1)))
    row = USAGE_TABLES["completions"].objects.get(task=task)
    assert (row.inputTokens, row.outputTokens) == (BIGINT, -BIGINT - 1)
    largest = 10**20 - 10**5  # fifteen nines, then five zeros
    write(task, "costs", bucket(cost(largest, line_item="a", quantity=0.000003)))
    row = USAGE_TABLES["costs"].objects.get(task=task)
    assert (row.amountValue, float(row.quantity)) == (largest, 0.000003)


def test_a_value_beyond_bigint_in_rows_already_held_is_named(task):
    """A re-read page whose rows the table holds goes through the scratch table's COPY
    and one UPDATE: a count beyond bigint there is refused in words too, and the held
    rows keep their values."""
    model = USAGE_TABLES["completions"]
    write(task, "completions", bucket(completion(model="a"), completion(model="b")))
    page = bucket(completion(model="a"), completion(model="b", input_tokens=BIGINT + 1))
    with pytest.raises(ContractError) as caught:
        write(task, "completions", page)
    says(caught.value, "/organization/usage/completions", "input_tokens", str(BIGINT + 1))
    assert dict(model.objects.filter(task=task).values_list("model", "inputTokens")) == {
        "a": 10,
        "b": 10,
    }


def test_write_rows_names_a_value_beyond_bigint(task):
    stream, model = STREAMS["completions"], USAGE_TABLES["completions"]
    page = [bucket(completion(input_tokens=BIGINT + 1))]
    rows = usage_rows(stream, "1h", task.pk, task.connector_id, page, 0)
    with pytest.raises(ContractError) as caught, transaction.atomic():
        write_rows(model, rows, timezone.now(), stream.path)
    says(caught.value, stream.path, "input_tokens", str(BIGINT + 1))
    assert not model.objects.filter(task=task).exists()
