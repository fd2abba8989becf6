"""The data pages check every value of their URL instead of trusting it: a page says next
to its filters what it could not use and shows the rest, an export answers a 400 page in
words before it sends a byte, and nothing answers 500 or stops a download halfway."""

from __future__ import annotations

import base64
import csv
import io
import json

import pytest
from django.urls import reverse

from connectors.models import USAGE_TABLES
from tests.collection.conftest import run_now


def cursor(value) -> str:
    """A page cursor holding any JSON, as a hostile URL would."""
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.fixture
def collected(make_task):
    """A few days of completions (by project, model, key and batch), of costs, and the
    directory, from the emulator."""
    tasks = [
        make_task(
            "completions",
            StartTime="2026-10-01",
            EndTime="2026-10-04",
            BucketWidth="1d",
            GroupBy=["project_id", "model", "api_key_id", "batch"],
        ),
        make_task("costs", StartTime="2026-10-01", EndTime="2026-10-04", GroupBy=["project_id"]),
        make_task("projects", IncludeArchived=True),
        make_task("users"),
        make_task("api_keys"),
    ]
    for task in tasks:
        assert run_now(task).status == "succeeded"
    return tasks[0]


def get(client, connector_id: int, name: str, table: str = "", **params):
    args = [connector_id, table] if table else [connector_id]
    return client.get(reverse(f"connectors:{name}", args=args), params)


def body(html: str) -> str:
    return html.split("<tbody>")[1].split("</tbody>")[0]


# (the hostile parameters, what the page shows them as, a word of the message)
TABLE_CASES = [
    ({"after": "W3RydWUsIDFd"}, {}, "page link"),  # [true, 1]
    ({"after": cursor([{"d": "x"}, 1]), "sort": "inputTokens"}, {"sort": "inputTokens"}, "page"),
    ({"after": cursor([{"d": "NaN"}, 1]), "sort": "batch"}, {"sort": "batch"}, "page link"),
    ({"after": cursor([{"d": "NaN"}, 1]), "sort": "inputTokens"}, {"sort": "inputTokens"}, "page"),
    ({"before": cursor(["a\x00", 1])}, {}, "page link"),
    ({"before": cursor([{"t": 5}, 1])}, {}, "page link"),
    ({"after": cursor([{"t": "2026-10-02T00:00:00+00:00"}, "1"])}, {}, "page link"),
    ({"after": cursor([1e308, 2**70]), "sort": "model"}, {"sort": "model"}, "page link"),
    ({"after": cursor([[[[[]]]]] * 3)}, {}, "page link"),
    ({"after": cursor(["\ud800", 5]), "sort": "projectId"}, {"sort": "projectId"}, "page link"),
    ({"after": "W" * 5000}, {}, "page link"),
    ({"after": "%%%not-base64%%%"}, {}, "page link"),
    ({"model": "a\x00b"}, {}, "NUL"),
    ({"q": "\x00"}, {}, "NUL"),
    ({"user": "\x00"}, {}, "NUL"),
    ({"project": "proj\x00"}, {}, "NUL"),
    ({"preset": "custom", "end": "9999-12-31"}, {"preset": "custom"}, "out of range"),
    ({"preset": "custom", "start": "0001-01-01"}, {"preset": "custom"}, "out of range"),
    ({"task": "9" * 40}, {}, "is not a task"),
    ({"sort": "--startTime"}, {}, "cannot be sorted"),
]


@pytest.mark.parametrize(("hostile", "shown_as", "words"), TABLE_CASES)
def test_it_shows_the_table_without_what_its_url_cannot_use_and_says_so(
    staff_client, collected, hostile, shown_as, words
):
    pk = collected.connector_id
    response = get(staff_client, pk, "table-detail", "completions", **({"preset": "all"} | hostile))
    assert response.status_code == 200
    html = response.content.decode()
    problems = [p.split("</div>")[0] for p in html.split('<div class="error" role="alert">')[1:]]
    assert any(words in p for p in problems), problems
    assert "\x00" not in "".join(problems)
    expected = get(
        staff_client, pk, "table-detail", "completions", **({"preset": "all"} | shown_as)
    )
    assert body(html) == body(expected.content.decode())
    charts = reverse("connectors:table-charts", args=[pk, "completions"])
    fragment = staff_client.get(
        charts, {"preset": "all", **hostile}, headers={"HX-Request": "true"}
    )
    assert fragment.status_code == 200


def test_it_pages_on_from_a_cursor_it_wrote(staff_client, collected):
    """The checks refuse other cursors, never the page's own (by time, a number, text)."""
    pk = collected.connector_id
    for sort in ("-startTime", "inputTokens", "-model", "batch"):
        first = get(staff_client, pk, "table-detail", "completions", preset="all", sort=sort)
        page = first.context["page"]
        assert page.next_cursor, sort
        second = get(
            staff_client,
            pk,
            "table-detail",
            "completions",
            preset="all",
            sort=sort,
            after=page.next_cursor,
        )
        assert second.context["query"].problems == [], sort
        seen = {r.id for r in page.rows}
        assert not seen & {r.id for r in second.context["page"].rows}, sort


@pytest.mark.parametrize(
    ("table", "hostile", "words"),
    [
        ("completions", {"q": "\x00"}, "NUL"),
        ("completions", {"model": "a\x00b"}, "NUL"),
        ("completions", {"preset": "custom", "end": "9999-12-31"}, "out of range"),
        ("completions", {"preset": "custom", "start": "0001-01-01"}, "out of range"),
        ("completions", {"sort": "evil"}, "cannot be sorted"),
        ("completions", {"after": "W3RydWUsIDFd"}, "page link"),
        ("costs", {"user": "\x00"}, "NUL"),
        ("projects", {"q": "\x00"}, "NUL"),
        ("users", {"q": "a\x00b"}, "NUL"),
        ("apiKeys", {"status": "gone"}, "is not a state"),
        ("serviceAccounts", {"sort": "-nope"}, "cannot be sorted"),
        ("costs-focus", {"q": "\x00"}, "NUL"),
        ("costs-focus", {"preset": "custom", "end": "9999-12-31"}, "out of range"),
    ],
)
def test_it_refuses_an_export_it_cannot_make_with_a_page_in_words(
    staff_client, collected, table, hostile, words
):
    table, _, focus = table.partition("-")
    name = "table-focus-export" if focus else "table-export"
    response = get(staff_client, collected.connector_id, name, table, **hostile)
    assert response.status_code == 400 and not response.streaming
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert words in html and "Traceback" not in html
    assert "Nothing was exported" in html and "was ignored" not in html  # it was not
    back = reverse("connectors:table-detail", args=[collected.connector_id, table])
    assert f'href="{back}?' in html


def test_it_exports_what_the_page_shows_for_a_name_nothing_has(staff_client, collected):
    """A name is no bad value: the page says no entry has it, the export has no rows."""
    pk = collected.connector_id
    page = get(staff_client, pk, "table-detail", "completions", preset="all", project="Nobody")
    assert "No project named" in page.content.decode()
    response = get(staff_client, pk, "table-export", "completions", preset="all", project="Nobody")
    text = b"".join(response.streaming_content).decode()
    header, *rows, total = csv.reader(io.StringIO(text, newline=""))
    assert response.status_code == 200 and rows == [] and header[0] == "startTime"
    assert total[0] == "totals"


def test_it_exports_every_directory_page_whatever_the_page_number(staff_client, collected):
    pk = collected.connector_id
    whole = get(staff_client, pk, "table-export", "users")
    paged = get(staff_client, pk, "table-export", "users", page="9" * 30)
    assert paged.status_code == 200
    assert b"".join(paged.streaming_content) == b"".join(whole.streaming_content)


@pytest.mark.parametrize(
    ("page", "words"),
    [
        ("9" * 30, "showing the last"),
        ("4611686018427387904", "showing the last"),
        ("-5", "is not a page number"),
    ],
)
def test_it_bounds_a_directory_page_number(staff_client, collected, page, words):
    response = get(staff_client, collected.connector_id, "table-detail", "projects", page=page)
    assert response.status_code == 200
    html = response.content.decode()
    assert words in html
    first = get(staff_client, collected.connector_id, "table-detail", "projects")
    assert body(html) == body(first.content.decode())  # one page holds every project


@pytest.mark.parametrize("month", ["9999-12", "0000-01", "2026-13", "\x00", "2026-1", "2026-10x"])
def test_it_explains_a_month_it_cannot_show_on_both_overviews(staff_client, collected, month):
    for response in (
        get(staff_client, collected.connector_id, "connector-overview", month=month),
        staff_client.get(reverse("connectors:overview-all"), {"month": month}),
    ):
        assert response.status_code == 200
        html = response.content.decode()
        assert "is not a month" in html or "is out of range" in html
        assert "\x00" not in html


HOSTILE = [
    {"after": "W3RydWUsIDFd"},
    {"before": cursor([{"t": "0001-01-01T00:00:00-14:00"}, 1])},
    {"after": cursor([{"d": "1e999999"}, 1]), "sort": "amountValue"},
    {"after": cursor(["\ud800", 5]), "sort": "projectId"},
    {"model": "a\x00b", "q": "\x00", "user": "\x00", "api_key": "\x00", "line_item": "\x00"},
    {"preset": "custom", "start": "0001-01-01", "end": "9999-12-31"},
    {"preset": "\x00", "batch": "\x00", "split": "\x00", "status": "\x00", "sort": "\x00"},
    {"task": str(2**63), "page": str(2**62), "month": "9999-12"},
    {"q": "x" * 10_000, "project": "p" * 10_000},
]


def test_no_data_page_answers_500_or_stops_a_download_halfway(staff_client, collected):
    """Every data address with every hostile value: a page, a 400, or a whole CSV."""
    pk = collected.connector_id
    staff_client.raise_request_exception = True  # a 500 fails here with its traceback
    urls = [reverse("connectors:table-list", args=[pk]), reverse("connectors:overview-all")]
    urls.append(reverse("connectors:connector-overview", args=[pk]))
    for table in ("completions", "costs", "projects", "users", "apiKeys", "serviceAccounts"):
        urls += [reverse(f"connectors:table-{v}", args=[pk, table]) for v in ("detail", "export")]
    urls.append(reverse("connectors:table-focus-export", args=[pk, "costs"]))
    charts = [reverse("connectors:table-charts", args=[pk, t]) for t in ("completions", "costs")]
    for params in HOSTILE:
        for url in urls:
            response = staff_client.get(url, params)
            assert response.status_code in (200, 400), (url, params)
            if response.streaming:
                text = b"".join(response.streaming_content).decode()
                lines = list(csv.reader(io.StringIO(text, newline="")))
                assert lines[0][0] in ("startTime", "id", "BilledCost"), (url, params)
                if lines[0][0] == "startTime":
                    assert lines[-1][0] == "totals", (url, params)  # the end was reached
        for url in charts:
            response = staff_client.get(url, params, headers={"HX-Request": "true"})
            assert response.status_code == 200, (url, params)
    assert USAGE_TABLES["completions"].objects.filter(task=collected).exists()
