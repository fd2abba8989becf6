"""The tables pages: rows with names, filters, keyset pages, totals and CSV export, all
equal to the emulator's ground truth."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.db.models import Max
from django.urls import reverse

from connectors.models import USAGE_TABLES
from connectors.openai.emulator import totals as truth_totals
from connectors.openai.streams import SIZES, STREAMS
from tests.collection.conftest import run_now, table_rows, truth_rows


@pytest.fixture
def collected(make_task, emulator):
    """A month of completions by project and model, collected from the emulator."""
    task = make_task(
        "completions",
        StartTime="2026-10-01",
        EndTime="2026-11-01",
        BucketWidth="1d",
        GroupBy=["project_id", "model", "api_key_id"],
    )
    assert run_now(task).status == "succeeded"
    return task


def url(task, **params) -> str:
    base = reverse("connectors:table-detail", args=[task.connector_id, "completions"])
    query = "&".join(f"{k}={v}" for k, v in ({"preset": "all"} | params).items())
    return f"{base}?{query}"


def truth_buckets(emulator, **filters) -> list[dict]:
    """The ground truth of the collected task's range and grouping."""
    return emulator.ground_truth(
        "completions",
        start=1790812800,
        end=1793491200,
        bucket_width="1d",
        group_by=["project_id", "model", "api_key_id"],
        filters=filters,
    )


def truth(emulator, **filters) -> dict:
    return truth_totals(truth_buckets(emulator, **filters))


def test_it_lists_the_tables_with_counts_ranges_freshness_and_feeding_tasks(
    staff_client, collected, emulator
):
    page = staff_client.get(reverse("connectors:table-list", args=[collected.connector_id]))
    html = page.content.decode()
    row = html.split('tables/completions/">completions</a>')[1].split("</tr>")[0]
    buckets = [b for b in truth_buckets(emulator) if b["results"]]
    count = sum(len(b["results"]) for b in buckets)
    first, last = (
        datetime.fromtimestamp(t, UTC) for t in (buckets[0]["start_time"], buckets[-1]["end_time"])
    )
    assert f'<td class="num">{count:,}</td>' in row
    assert f"{first:%Y-%m-%d %H:%M} → {last:%Y-%m-%d %H:%M}" in row
    run = collected.runs.get()
    fetched = USAGE_TABLES["completions"].objects.filter(task=collected)
    newest = fetched.aggregate(newest=Max("last_fetched_at"))["newest"]
    assert run.started_at <= newest <= run.finished_at
    assert f"<td>{newest.astimezone(UTC):%Y-%m-%d %H:%M}</td>" in row
    assert collected.display_name in row
    for table in ("audioSpeeches", "costs", "webSearchCalls"):
        assert table in html
    empty = html.split('tables/audioSpeeches/">audioSpeeches</a>')[1].split("</tr>")[0]
    assert '<td class="num">0</td>' in empty and "empty" in empty


def test_it_shows_totals_equal_to_the_ground_truth(staff_client, collected, emulator):
    html = staff_client.get(url(collected)).content.decode()
    expected = truth(emulator)
    for metric in ("input_tokens", "output_tokens", "num_model_requests"):
        assert f'<td class="num">{expected[metric]:,}</td>' in html, metric


def test_it_shows_names_with_the_raw_id_on_hover(staff_client, collected, emulator):
    project = emulator.directory_truth()["projects"][0]
    html = staff_client.get(url(collected, project=project["id"])).content.decode()
    assert f'<span title="{project["id"]}">{project["name"]}</span>' in html
    expected = truth(emulator, project_ids=[project["id"]])
    assert f'<td class="num">{expected["input_tokens"]:,}</td>' in html


def test_it_reads_a_page_with_its_names_in_a_fixed_number_of_queries(
    staff_client, collected, django_assert_max_num_queries
):
    """Session, user, connector, what each task covered (which rows answer), the page's
    rows, its totals, every name on it (projects, users and keys: a query each) and the
    task list; then the charts that come with the page (tokens and requests over time in
    one query, top projects and their names, top models): a page costs the same queries
    whatever it shows."""
    staff_client.get(url(collected))  # the first request keeps the user's time zone
    with django_assert_max_num_queries(10 + 4):
        html = staff_client.get(url(collected, sort="endTime")).content.decode()
    assert html.count('<span title="proj_') == 50 and html.count('<span title="key_') == 50


def test_it_marks_archived_projects_and_deleted_keys(staff_client, make_task, emulator):
    collected = make_task(
        "completions",
        StartTime="2025-01-01",
        EndTime="2026-11-01",
        BucketWidth="1d",
        GroupBy=["project_id", "api_key_id"],
    )
    assert run_now(collected).status == "succeeded"
    directory = emulator.directory_truth()
    rows = USAGE_TABLES["completions"].objects.filter(task=collected)
    archived = {p["id"] for p in directory["projects"] if p["archived_at"]}
    used_archived = rows.filter(projectId__in=archived).values_list("projectId", flat=True)
    assert used_archived, "the emulator's archived projects have older usage"
    html = staff_client.get(url(collected, project=used_archived[0])).content.decode()
    assert '<span class="badge">archived</span>' in html
    listed = {k["id"] for keys in directory["api_keys"].values() for k in keys}
    deleted = rows.exclude(apiKeyId__in=listed).exclude(apiKeyId=None)
    deleted_id = deleted.values_list("apiKeyId", flat=True).first()
    assert deleted_id, "the emulator has usage from keys deleted since"
    html = staff_client.get(url(collected, api_key=deleted_id)).content.decode()
    assert '<span class="badge">deleted</span>' in html
    export = reverse("connectors:table-export", args=[collected.connector_id, "completions"])
    response = staff_client.get(export, {"preset": "all", "api_key": deleted_id})
    lines = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    key_rows = [line for line in lines if line["apiKeyId"] == deleted_id]
    assert key_rows and {line["apiKeyName"] for line in key_rows} == {f"{deleted_id} (deleted)"}


def every_page(client, task, **params) -> list[str]:
    """The rows of every page, following "Next →" from the first one (HTMX fragments)."""
    seen, target = [], url(task, **params)
    while target:
        response = client.get(target, headers={"HX-Request": "true", "HX-Target": "table-data"})
        html = response.content.decode()
        assert html.lstrip().startswith('<div id="table-data">')
        seen += [line for line in html.splitlines() if 'class="time start"' in line]
        marker = 'href="?'
        nexts = [chunk for chunk in html.split("Next →")[0].split(marker)[1:]]
        target = None
        if "Next →" in html:
            href = nexts[-1].split('"')[0].replace("&amp;", "&")
            target = (
                reverse("connectors:table-detail", args=[task.connector_id, "completions"])
                + "?"
                + href
            )
    return seen


def test_it_pages_through_every_row_once_in_order(staff_client, collected):
    seen = every_page(staff_client, collected, sort="startTime")
    count = USAGE_TABLES["completions"].objects.filter(task=collected).count()
    assert len(seen) == count
    assert seen == sorted(seen, key=lambda line: line.split(">")[1][:16])


def shown_metric(row: str, column: str) -> int:
    metrics = [f.column for f in STREAMS["completions"].metrics]
    cells = row.split('<td class="num">')[1:]
    return int(cells[metrics.index(column)].split("<")[0].replace(",", "") or 0)


@pytest.mark.parametrize(
    ("sort", "by_model"),
    [
        ("-inputTokens", False),  # a main metric: read through its own index
        ("outputTokens", False),
        ("-inputTokens", True),  # filtered too: read by time
        ("-numModelRequests", False),  # not a main metric: read by time
    ],
)
def test_it_pages_through_every_row_sorted_by_a_metric(
    staff_client, collected, emulator, sort, by_model
):
    column = sort.lstrip("-")
    api_name = {"inputTokens": "input_tokens", "outputTokens": "output_tokens"}.get(
        column, "num_model_requests"
    )
    filters = {}
    if by_model:
        rows = USAGE_TABLES["completions"].objects.filter(task=collected).exclude(model=None)
        filters["model"] = rows.values_list("model", flat=True).first()
    results = [r for b in truth_buckets(emulator) for r in b["results"]]
    kept = [r for r in results if r["model"] == filters.get("model", r["model"])]
    expected = sorted((r[api_name] for r in kept), reverse=sort.startswith("-"))
    seen = every_page(staff_client, collected, sort=sort, **filters)
    assert len(expected) > 50 and [shown_metric(row, column) for row in seen] == expected


def test_it_sorts_by_a_metric(staff_client, collected):
    html = staff_client.get(url(collected, sort="-inputTokens")).content.decode()
    largest = USAGE_TABLES["completions"].objects.order_by("-inputTokens").first().inputTokens
    first_row = html.split("<tbody>")[1]
    assert f'<td class="num">{largest:,}</td>' in first_row.split("</tr>")[0]


def test_it_explains_bad_filters_instead_of_failing(staff_client, collected):
    response = staff_client.get(url(collected, preset="custom", start="yesterday", sort="evil"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "is not a date" in html and "cannot be sorted" in html
    assert staff_client.get(url(collected, after="garbage!!")).status_code == 200


def test_it_answers_404_for_an_unknown_table(staff_client, collected):
    bad = reverse("connectors:table-detail", args=[collected.connector_id, "nope"])
    assert staff_client.get(bad).status_code == 404


def test_it_lets_viewers_read_tables(viewer_client, collected):
    assert viewer_client.get(url(collected)).status_code == 200


def test_it_exports_the_filtered_table_with_totals_equal_to_the_screen(
    staff_client, collected, emulator
):
    project = emulator.directory_truth()["projects"][0]["id"]
    base = reverse("connectors:table-export", args=[collected.connector_id, "completions"])
    response = staff_client.get(f"{base}?preset=all&project={project}")
    assert response.streaming
    lines = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    header, *rows, total = lines
    assert header[:3] == ["startTime", "endTime", "bucketWidth"] and "projectName" in header
    filtered = {k: v for k, v in table_rows(collected, "completions").items() if k[1][0] == project}
    assert len(rows) == len(filtered)
    expected = truth(emulator, project_ids=[project])
    assert Decimal(total[header.index("inputTokens")]) == expected["input_tokens"]
    screen = staff_client.get(url(collected, project=project)).content.decode()
    assert f'<td class="num">{int(total[header.index("inputTokens")]):,}</td>' in screen


def test_it_shows_times_in_the_users_time_zone_but_costs_in_utc_days(
    staff_client, user, collected, make_task
):
    response = staff_client.post(reverse("connectors:preferences"), {"time_zone": "Asia/Tokyo"})
    assert response.status_code == 302
    html = staff_client.get(url(collected, sort="startTime")).content.decode()
    assert "times in Asia/Tokyo; daily buckets are UTC days" in html
    # a 1d bucket is its UTC date, not "2026-10-01 09:00" in Tokyo
    first = html.split("<tbody>")[1].split("</tr>")[0]
    assert '<td class="time start">2026-10-01</td><td class="time">2026-10-02</td>' in first
    hourly = make_task(
        "completions", StartTime="2026-10-05", EndTime="2026-10-06", BucketWidth="1h"
    )
    assert run_now(hourly).status == "succeeded"
    html = staff_client.get(url(hourly, sort="startTime") + f"&task={hourly.pk}").content.decode()
    first = html.split("<tbody>")[1].split("</tr>")[0]
    assert '<td class="time start">2026-10-05 09:00' in first  # 00:00 UTC in Tokyo
    assert "daily buckets" not in html
    costs = make_task("costs", StartTime="2026-10-01", EndTime="2026-10-03")
    assert run_now(costs).status == "succeeded"
    base = reverse("connectors:table-detail", args=[costs.connector_id, "costs"])
    html = staff_client.get(f"{base}?preset=all&sort=startTime").content.decode()
    assert "daily costs are UTC days" in html
    assert '<td class="time start">2026-10-01' in html


def test_it_refuses_an_unknown_time_zone(staff_client):
    response = staff_client.post(reverse("connectors:preferences"), {"time_zone": "Mars/Base"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()


def truth_where(emulator, keep) -> dict:
    """Sums of the ground truth's results that `keep` accepts."""
    buckets = truth_buckets(emulator)
    kept = [b | {"results": [r for r in b["results"] if keep(r)]} for b in buckets]
    return truth_totals(kept)


def shown_totals(html: str) -> str:
    return html.split('<tr class="totals">')[1].split("</tr>")[0]


def test_it_searches_ids_values_and_names_with_totals_equal_to_the_ground_truth(
    staff_client, collected, emulator
):
    directory = emulator.directory_truth()
    text = directory["projects"][0]["name"][:4].lower()  # a part of a name, in any case
    named = {p["id"] for p in directory["projects"] if text in p["name"].lower()}
    keys = [k for keys in directory["api_keys"].values() for k in keys]
    named |= {k["id"] for k in keys if text in (k["name"] or "").lower()}

    def matches(result) -> bool:
        values = [result["project_id"], result["model"], result["api_key_id"]]
        return any(v and (v in named or text in v.lower()) for v in values)

    expected = truth_where(emulator, matches)
    html = staff_client.get(url(collected, q=text.upper())).content.decode()
    for metric in ("input_tokens", "output_tokens", "num_model_requests"):
        assert f'<td class="num">{expected[metric]:,}</td>' in shown_totals(html), metric


def test_it_searches_one_model_family_like_the_ground_truth(staff_client, collected, emulator):
    rows = USAGE_TABLES["completions"].objects.filter(task=collected)
    model = rows.exclude(model=None).values_list("model", flat=True).first()
    family = model.split("-")[0] + "-"  # "gpt-" matches several models, nothing else
    expected = truth_where(emulator, lambda r: family in (r["model"] or ""))
    html = staff_client.get(url(collected, q=family)).content.decode()
    assert f'<td class="num">{expected["input_tokens"]:,}</td>' in shown_totals(html)


def test_it_totals_two_filters_together_like_the_ground_truth(staff_client, collected, emulator):
    project = emulator.directory_truth()["projects"][0]["id"]
    rows = USAGE_TABLES["completions"].objects.filter(task=collected, projectId=project)
    model = rows.exclude(model=None).values_list("model", flat=True).first()
    html = staff_client.get(url(collected, project=project, model=model)).content.decode()
    expected = truth(emulator, project_ids=[project], models=[model])
    assert expected["input_tokens"]
    assert f'<td class="num">{expected["input_tokens"]:,}</td>' in shown_totals(html)


def test_it_shows_no_rows_and_zero_totals_for_a_search_nothing_matches(staff_client, collected):
    response = staff_client.get(url(collected, q="no such thing anywhere"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Totals of the 0 rows" in html and "No rows match" in html


def _cell(field, text: str):
    """A CSV cell as the value the table holds."""
    if text == "":
        return None
    if field.type == "bool":
        return {"true": True, "false": False}[text]
    if field.type == "int":
        return int(text)
    if field.type in ("decimal", "float"):
        assert "E" not in text.upper(), text  # plain digits, no exponent
        assert not ("." in text and text.endswith("0")), text  # no trailing zeros
        return Decimal(text).normalize()
    return text


@pytest.mark.parametrize(
    ("stream_type", "parameters"),
    [
        (
            "completions",
            {"BucketWidth": "1h", "GroupBy": ["project_id", "model", "batch", "user_id"]},
        ),
        ("costs", {"GroupBy": ["project_id", "line_item"]}),
    ],
)
def test_it_exports_every_row_equal_to_the_ground_truth_with_names(
    staff_client, make_task, emulator, stream_type, parameters
):
    task = make_task(stream_type, StartTime="2026-10-01", EndTime="2026-10-04", **parameters)
    assert run_now(task).status == "succeeded"
    base = reverse("connectors:table-export", args=[task.connector_id, STREAMS[stream_type].table])
    response = staff_client.get(f"{base}?preset=all")
    header, *lines, _total = csv.reader(io.StringIO(b"".join(response.streaming_content).decode()))
    stream = STREAMS[stream_type]
    exported = {}
    for line in lines:
        cells = dict(zip(header, line, strict=True))
        start = int(datetime.fromisoformat(cells["startTime"]).timestamp())
        dims = tuple(_cell(f, cells[f.column]) for f in stream.dimensions)
        exported[(start, dims)] = {f.column: _cell(f, cells[f.column]) for f in stream.metrics}
    expected = {
        key: {c: v.normalize() if isinstance(v, Decimal) else v for c, v in metrics.items()}
        for key, metrics in truth_rows(emulator, task, stream_type).items()
    }
    assert len(exported) == len(lines) and exported == expected
    projects = {p["id"]: p for p in emulator.directory_truth()["projects"]}
    for line in lines:
        cells = dict(zip(header, line, strict=True))
        project = projects[cells["projectId"]]
        assert cells["projectName"] == project["name"] + (
            " (archived)" if project["archived_at"] else ""
        )


@pytest.mark.parametrize(
    ("stream_type", "parameters", "sort", "shown"),
    [  # archived projects' usage is older: a long range of daily buckets holds some
        ("completions", {"StartTime": "2025-01-01", "GroupBy": ["project_id"]}, "", "(archived)"),
        (
            "completions",
            {"StartTime": "2026-10-01", "BucketWidth": "1h", "GroupBy": ["model", "batch"]},
            "inputTokens",
            ",true,",
        ),
        ("costs", {"StartTime": "2026-09-01", "GroupBy": ["project_id", "line_item"]}, "", "."),
        # keys deleted since they were used: named by their id, marked deleted
        ("completions", {"StartTime": "2025-01-01", "GroupBy": ["api_key_id"]}, "", "(deleted)"),
    ],
)
def test_postgres_writes_the_same_csv_as_python(make_task, stream_type, parameters, sort, shown):
    from django.db import connection
    from django.http import QueryDict
    from django.utils import timezone

    from connectors.explore import datatables, export

    if connection.vendor != "postgresql":
        pytest.skip("COPY … TO STDOUT is Postgres's")
    task = make_task(stream_type, EndTime="2026-10-04", **parameters)
    assert run_now(task).status == "succeeded"
    task.connector.refresh_from_db()  # as a request reads it: its directory has been read
    params = QueryDict(f"preset=all&sort={sort}")
    query = datatables.parse_query(STREAMS[stream_type], params, timezone.now().date())
    rows = datatables.filtered(task.connector, query)
    by_copy = b"".join(export.copied(task.connector, query, rows)).decode()
    by_python = "".join(export.written(task.connector, query, rows))
    assert by_copy.count("\n") == rows.count() > 50
    assert shown in by_copy  # the case holds what it is there for
    assert by_copy == by_python


def test_it_exports_only_the_header_and_zero_totals_when_nothing_matches(staff_client, collected):
    base = reverse("connectors:table-export", args=[collected.connector_id, "completions"])
    response = staff_client.get(f"{base}?preset=all&q=no-such-thing-anywhere")
    header, *rows, total = csv.reader(io.StringIO(b"".join(response.streaming_content).decode()))
    assert rows == [] and header[0] == "startTime"
    assert total[0] == "totals" and total[header.index("inputTokens")] == "0"


def test_postgres_and_python_quote_awkward_names_alike(collected, emulator):
    from django.db import connection
    from django.http import QueryDict
    from django.utils import timezone

    from connectors.explore import datatables, export
    from connectors.models import ProjectEntry

    if connection.vendor != "postgresql":
        pytest.skip("COPY … TO STDOUT is Postgres's")
    projects = [p["id"] for p in emulator.directory_truth()["projects"]]
    awkward = {projects[0]: "Acme\rCo", projects[1]: 'Big, "Co"\r\ntwo'}  # a CR alone, …
    for project, name in awkward.items():
        entry = ProjectEntry.objects.filter(connector=collected.connector, openai_id=project)
        entry.update(name=name, archived_at=None)
    stream = STREAMS["completions"]
    named_at = len(stream.dimensions) + 3  # projectName follows the dimensions
    for params in (
        "preset=all",
        f"preset=all&project={projects[0]}&sort=-outputTokens",
        "preset=all&q=Acme",
    ):
        query = datatables.parse_query(stream, QueryDict(params), timezone.now().date())
        rows = datatables.filtered(collected.connector, query)
        by_copy = b"".join(export.copied(collected.connector, query, rows)).decode()
        assert by_copy == "".join(export.written(collected.connector, query, rows)), params
        lines = list(csv.reader(io.StringIO(by_copy, newline="")))
        assert len(lines) == rows.count() > 0, params
        assert {line[named_at] for line in lines if line[3] == projects[0]} == {"Acme\rCo"}
        for line in lines:
            assert line[named_at] == awkward.get(line[3], line[named_at]), params


def test_it_spans_the_tables_range_over_every_task_and_bucket_width(staff_client, make_task):
    daily = make_task(
        "completions",
        StartTime="2026-10-01",
        EndTime="2026-10-10",
        BucketWidth="1d",
        GroupBy=["model"],
    )
    hourly = make_task(
        "completions",
        StartTime="2026-10-05",
        EndTime="2026-10-12T06:00:00Z",
        BucketWidth="1h",
        GroupBy=["model"],
    )
    assert run_now(daily).status == run_now(hourly).status == "succeeded"
    rows = USAGE_TABLES["completions"].objects.filter(task__in=[daily, hourly])
    first = rows.order_by("start_time").first().start_time
    last = rows.order_by("-end_time").first().end_time
    assert last == datetime(2026, 10, 12, 6, tzinfo=UTC)  # the hourly task's last bucket
    page = staff_client.get(reverse("connectors:table-list", args=[daily.connector_id]))
    row = page.content.decode().split('tables/completions/">completions</a>')[1].split("</tr>")[0]
    # Each day counted from one task: the daily task covers more days of the two
    # (Oct 1-9 against Oct 5-12 06:00), so it answers its days, the hourly task the rest.
    switch = datetime(2026, 10, 10, tzinfo=UTC)
    answering = rows.filter(task=daily, start_time__lt=switch).count()
    answering += rows.filter(task=hourly, start_time__gte=switch).count()
    assert answering < rows.count()
    assert f'<td class="num">{answering:,}</td>' in row
    assert f"{first:%Y-%m-%d %H:%M} → {last:%Y-%m-%d %H:%M}" in row
    assert daily.display_name in row and hourly.display_name in row


@pytest.fixture
def costs(make_task):
    task = make_task(
        "costs", StartTime="2026-10-01", EndTime="2026-11-01", GroupBy=["project_id", "line_item"]
    )
    assert run_now(task).status == "succeeded"
    return task


def costs_truth(emulator, line_item: str | None = None) -> list[dict]:
    buckets = emulator.ground_truth(
        "costs",
        start=1790812800,
        end=1793491200,
        bucket_width="1d",
        group_by=["project_id", "line_item"],
        filters={},
    )
    found = [r for b in buckets for r in b["results"]]
    return [r for r in found if line_item is None or r["line_item"] == line_item]


def costs_url(task, **params) -> str:
    base = reverse("connectors:table-detail", args=[task.connector_id, "costs"])
    return f"{base}?{urlencode({'preset': 'all'} | params)}"


def test_it_shows_money_with_cents_and_the_exact_amount_on_hover(staff_client, costs, emulator):
    results = costs_truth(emulator)
    exact = sum(Decimal(repr(r["amount"]["value"])) for r in results)
    html = staff_client.get(costs_url(costs)).content.decode()
    totals = shown_totals(html)
    cents = exact.quantize(Decimal("0.01"))
    exact_text = format(exact, "f").rstrip("0").rstrip(".")
    assert f'<td class="num" title="{exact_text}">${cents:,}</td>' in totals
    assert "$" in html.split("<tbody>")[1].split("</tr>")[0]  # each row's amount too


def test_it_totals_quantity_only_over_one_unit(staff_client, costs, emulator):
    units = {r["quantity_unit"] for r in costs_truth(emulator)}
    assert len(units) > 1
    html = staff_client.get(costs_url(costs)).content.decode()
    totals = shown_totals(html)
    assert "mixed units" in totals
    for unit in units:
        assert unit in totals.split("mixed units")[0]  # the reason names every unit
    line_item = "gpt-5-2025-08-07, input"
    kept = costs_truth(emulator, line_item)
    quantity = sum(Decimal(repr(r["quantity"])) for r in kept)
    html = staff_client.get(costs_url(costs, line_item=line_item)).content.decode()
    text = (
        format(quantity, ",f").rstrip("0").rstrip(".") if "." in str(quantity) else f"{quantity:,}"
    )
    assert f'{text} <span class="unit">tokens</span>' in shown_totals(html)
    base = reverse("connectors:table-export", args=[costs.connector_id, "costs"])
    lines = list(
        csv.reader(
            io.StringIO(b"".join(staff_client.get(f"{base}?preset=all").streaming_content).decode())
        )
    )
    assert lines[-1][lines[0].index("quantity")] == ""  # no sum of tokens and sessions


def test_it_filters_by_a_project_typed_by_name_like_by_its_id(staff_client, collected, emulator):
    projects = emulator.directory_truth()["projects"]
    names = [p["name"].casefold() for p in projects]
    project = next(p for p in projects if names.count(p["name"].casefold()) == 1)
    expected = truth(emulator, project_ids=[project["id"]])
    html = staff_client.get(url(collected, project=project["name"].upper())).content.decode()
    assert f'<td class="num">{expected["input_tokens"]:,}</td>' in shown_totals(html)
    assert 'list="choices-project"' in html
    listed = html.split('<datalist id="choices-project">')[1].split("</datalist>")[0]
    for p in projects:
        assert p["id"] in listed
    archived = next(p for p in projects if p["status"] == "archived")
    assert f"{archived['id']} · archived" in listed


def test_it_says_when_no_project_has_the_typed_name(staff_client, collected):
    html = staff_client.get(url(collected, project="Nobody's Project", preset="last7"))
    html = html.content.decode()
    assert "No project named or with the id “Nobody&#x27;s Project” in the directory." in html
    assert "try a longer time range" not in html


def test_it_shows_the_registrys_filters_labels_and_units(staff_client, connector):
    """A table page's filters and headers come from its fields in the registry: each
    dimension's filter (`Field.filter`) labelled with its label in capitals, each
    metric's header with its unit."""
    stream = STREAMS["completions"]
    page = reverse("connectors:table-detail", args=[connector.pk, stream.table])
    html = staff_client.get(page).content.decode()
    project = (
        '<label>PROJECT <input type="text" name="project" value="" placeholder="name or proj_…"'
    )
    api_key = (
        '<label>API KEY <input type="text" name="api_key" value="" placeholder="name or key_…"'
    )
    assert project in html and api_key in html
    assert '<label>SERVICE TIER <input type="text" name="service_tier" value="">' in html
    assert '<label>BATCH <select name="batch">' in html
    for f in stream.dimensions:
        if f.filter and f.type == "str":
            assert f'<label>{f.label.upper()} <input type="text" name="{f.filter}"' in html
    for f in stream.metrics:
        assert f'>{f.column}</a><br><span class="unit">{f.unit}</span></th>' in html
    assert '>inputTokens</a><br><span class="unit">tokens</span>' in html


def test_it_filters_images_by_size_like_the_ground_truth(staff_client, make_task, emulator):
    """A dimension a task can narrow (SIZES) can be filtered on its table page too; the
    filter offers the sizes the task form does."""
    task = make_task(
        "images", StartTime="2026-10-01", EndTime="2026-10-08", GroupBy=["size", "source"]
    )
    assert run_now(task).status == "succeeded"
    query = {"start": 1790812800, "end": 1791417600, "group_by": ["size", "source"]}
    sizes = {r["size"] for b in emulator.ground_truth("images", **query) for r in b["results"]}
    assert len(sizes) > 1
    size = sorted(sizes)[0]
    expected = truth_totals(emulator.ground_truth("images", **query, filters={"sizes": [size]}))
    page = reverse("connectors:table-detail", args=[task.connector_id, "images"])
    html = staff_client.get(page, {"preset": "all", "size": size}).content.decode()
    assert f'<td class="num">{expected["images"]:,}</td>' in shown_totals(html)
    listed = html.split('<datalist id="choices-size">')[1].split("</datalist>")[0]
    assert all(f'value="{choice}"' in listed for choice in SIZES.choices)
