"""Charts of the table pages and the connector overview: every number equals the
emulator's ground truth, charts follow the table's filters, and bad input never fails."""

from __future__ import annotations

import json
import re
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.db import transaction
from django.templatetags.static import static
from django.urls import reverse
from django.utils.html import escape

from connectors.explore import charts, overview
from connectors.models import USAGE_TABLES
from connectors.openai.emulator import DEMO_NO_USAGE_KEY
from connectors.openai.streams import STREAMS
from tests.collection.conftest import epoch, run_now, truth_rows
from tests.fixtures_emulator import EMULATOR_NOW

HTMX = {"HX-Request": "true", "HX-Target": "table-charts"}
SEPTEMBER, OCTOBER, NOVEMBER = epoch("2026-09-01"), epoch("2026-10-01"), epoch("2026-11-01")


@pytest.fixture
def costs_task(make_task):
    """Two months of costs by project and line item, collected from the emulator."""
    task = make_task(
        "costs", StartTime="2026-09-01", EndTime="2026-11-01", GroupBy=["project_id", "line_item"]
    )
    assert run_now(task).status == "succeeded"
    return task


@pytest.fixture
def completions_task(make_task):
    task = make_task(
        "completions",
        StartTime="2026-10-01",
        EndTime="2026-11-01",
        BucketWidth="1d",
        GroupBy=["project_id", "model"],
    )
    assert run_now(task).status == "succeeded"
    return task


def day(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S")


def amount(result: dict) -> Decimal:
    return Decimal(str(result["amount"]["value"]))


def per_bucket(emulator, stream: str, start: int, end: int, by: str | None, value, **filters):
    """{(bucket start, dimension value): sum} from the ground truth."""
    group_by = [by] if by else []
    truth = defaultdict(int)
    for bucket in emulator.ground_truth(
        stream, start=start, end=end, bucket_width="1d", group_by=group_by, filters=filters
    ):
        for result in bucket["results"]:
            truth[(day(bucket["start_time"]), result.get(by) if by else None)] += value(result)
    return truth


def chart_data(client, collected, table: str, **params) -> dict[str, dict]:
    """The charts of a table page's fragment, read from their JSON data islands."""
    base = reverse("connectors:table-charts", args=[collected.connector_id, table])
    response = client.get(base, {"preset": "all"} | params, headers=HTMX)
    assert response.status_code == 200
    return islands(response.content.decode())


def islands(html: str) -> dict[str, dict]:
    """The charts' data in a page or fragment, read from their JSON data islands."""
    found = re.findall(
        r'<script id="(chart-[\w-]+)" type="application/json">(.*?)</script>', html, re.S
    )
    return {chart_id: json.loads(body) for chart_id, body in found}


def stacked(spec: dict) -> dict[tuple[str, str | None], Decimal]:
    cells = {}
    for series in spec["series"]:
        for x, y in zip(spec["x"], series["y"], strict=True):
            if Decimal(str(y)):
                cells[(x, series["key"])] = Decimal(str(y))
    return cells


def ranked(truth: dict, limit: int = charts.TOP) -> list[tuple[str, Decimal]]:
    totals = defaultdict(int)
    for (_, key), value in truth.items():
        if key is not None:
            totals[key] += value
    return sorted(totals.items(), key=lambda item: (-item[1], item[0]))[:limit]


def test_it_charts_cost_per_day_per_project_equal_to_the_ground_truth(
    viewer_client, costs_task, emulator
):
    spec = chart_data(viewer_client, costs_task, "costs", split="project")["chart-main"]
    truth = per_bucket(emulator, "costs", SEPTEMBER, NOVEMBER, "project_id", amount)
    shown = [s["key"] for s in spec["series"] if s["key"] is not None]
    got = stacked(spec)
    assert {k: v for k, v in got.items() if k[1] is not None} == {
        k: v for k, v in truth.items() if k[1] in shown and v
    }
    daily = defaultdict(int)
    for (x, _), value in truth.items():
        daily[x] += value
    for i, x in enumerate(spec["x"]):
        assert sum(Decimal(str(s["y"][i])) for s in spec["series"]) == daily[x], x
    names = {p["id"]: p["name"] for p in emulator.directory_truth()["projects"]}
    assert {s["name"].split(" (")[0] for s in spec["series"] if s["key"]} <= set(names.values())


def test_it_stacks_costs_by_line_item_when_toggled(viewer_client, costs_task, emulator):
    spec = chart_data(viewer_client, costs_task, "costs", split="line_item")["chart-main"]
    truth = per_bucket(emulator, "costs", SEPTEMBER, NOVEMBER, "line_item", amount)
    top_items = [key for key, _ in ranked(truth, charts.STACKED)]
    assert [s["key"] for s in spec["series"][: charts.STACKED]] == top_items
    got = stacked(spec)
    assert {k: v for k, v in got.items() if k[1] is not None} == {
        k: v for k, v in truth.items() if k[1] in top_items and v
    }


def test_it_ranks_the_top_projects_by_cost_like_the_ground_truth(
    viewer_client, costs_task, emulator
):
    spec = chart_data(viewer_client, costs_task, "costs")["chart-top-projectId"]
    truth = per_bucket(emulator, "costs", SEPTEMBER, NOVEMBER, "project_id", amount)
    assert [(i["key"], Decimal(str(i["value"]))) for i in spec["items"]] == ranked(truth)


def test_it_shades_the_buckets_the_table_marks_provisional(viewer_client, costs_task):
    spec = chart_data(viewer_client, costs_task, "costs")["chart-main"]
    rows = USAGE_TABLES["costs"].objects.filter(task=costs_task, provisional=True)
    provisional = {day(int(t.timestamp())) for t in rows.values_list("start_time", flat=True)}
    assert provisional, "the newest cost days are still provisional"
    assert {x for x, p in zip(spec["x"], spec["provisional"], strict=True) if p} == provisional


def test_it_charts_tokens_and_requests_per_day_by_model(viewer_client, completions_task, emulator):
    data = chart_data(viewer_client, completions_task, "completions")
    tokens = per_bucket(
        emulator,
        "completions",
        OCTOBER,
        NOVEMBER,
        "model",
        lambda r: r["input_tokens"] + r["output_tokens"],
    )
    requests = per_bucket(
        emulator, "completions", OCTOBER, NOVEMBER, "model", lambda r: r["num_model_requests"]
    )
    for chart_id, truth in (("chart-main", tokens), ("chart-requests", requests)):
        spec = data[chart_id]
        shown = {s["key"] for s in spec["series"] if s["key"] is not None}
        got = {k: v for k, v in stacked(spec).items() if k[1] is not None}
        assert got == {k: v for k, v in truth.items() if k[1] in shown and v}, chart_id
    top_models = [(i["key"], i["value"]) for i in data["chart-top-model"]["items"]]
    assert top_models == ranked(tokens)


def test_it_splits_completions_tokens_into_input_and_output(
    viewer_client, completions_task, emulator
):
    spec = chart_data(viewer_client, completions_task, "completions", split="metric")["chart-main"]
    for metric, column in (("input_tokens", "inputTokens"), ("output_tokens", "outputTokens")):
        truth = per_bucket(
            emulator, "completions", OCTOBER, NOVEMBER, None, lambda r, m=metric: r[m]
        )
        series = next(s for s in spec["series"] if s["key"] == column)
        assert dict(zip(spec["x"], series["y"], strict=True)) == {
            x: v for (x, _), v in truth.items()
        }


def test_it_follows_the_table_filters(viewer_client, completions_task, emulator):
    project = emulator.directory_truth()["projects"][0]["id"]
    data = chart_data(viewer_client, completions_task, "completions", project=project)
    truth = per_bucket(
        emulator,
        "completions",
        OCTOBER,
        NOVEMBER,
        "model",
        lambda r: r["input_tokens"] + r["output_tokens"],
        project_ids=[project],
    )
    assert [(i["key"], i["value"]) for i in data["chart-top-model"]["items"]] == ranked(truth)
    assert [i["key"] for i in data["chart-top-projectId"]["items"]] == [project]


def test_it_ranks_projects_within_a_model_and_models_within_a_search(
    viewer_client, completions_task, emulator
):
    model = USAGE_TABLES["completions"].objects.exclude(model=None).values("model")[0]["model"]
    data = chart_data(viewer_client, completions_task, "completions", model=model)

    def tokens(result: dict) -> int:
        return result["input_tokens"] + result["output_tokens"]

    truth = per_bucket(
        emulator, "completions", OCTOBER, NOVEMBER, "project_id", tokens, models=[model]
    )
    assert [(i["key"], i["value"]) for i in data["chart-top-projectId"]["items"]] == ranked(truth)
    family = model.split("-")[0] + "-"
    data = chart_data(viewer_client, completions_task, "completions", q=family)
    truth = per_bucket(emulator, "completions", OCTOBER, NOVEMBER, "model", tokens)
    family_truth = {k: v for k, v in truth.items() if family in k[1]}
    assert [(i["key"], i["value"]) for i in data["chart-top-model"]["items"]] == ranked(
        family_truth
    )


def test_it_sends_the_charts_with_the_page_and_reloads_them_with_its_filters(
    viewer_client, completions_task
):
    page = reverse("connectors:table-detail", args=[completions_task.connector_id, "completions"])
    html = viewer_client.get(page, {"split": "project", "preset": "all"}).content.decode()
    fragment = reverse(
        "connectors:table-charts", args=[completions_task.connector_id, "completions"]
    )
    # The page's own response holds its charts (no second request before they are drawn),
    # the same charts its fragment sends for these filters.
    drawn = islands(html)
    assert drawn and drawn == chart_data(
        viewer_client, completions_task, "completions", split="project"
    )
    assert drawn["chart-main"]["title"].endswith("by project")
    section = re.search(r'<section id="table-charts".*?>', html, re.S).group(0)
    assert 'hx-trigger="change,' in section  # reloaded when the filters change, not on load
    assert f'hx-get="{fragment}"' in section and 'hx-include="#table-filters"' in section
    assert 'name="split" value="project" form="table-filters" checked' in html
    assert "vendor/chart.js/chart.umd.min.js" in html and "js/charts.js" in html
    plain = viewer_client.get(fragment, {"preset": "all"})
    assert plain.status_code == 302 and plain.url == f"{page}?preset=all"


@pytest.mark.parametrize(
    "params",
    [
        {"preset": "custom", "start": "yesterday", "end": "2026-13-45"},
        {"preset": "custom", "start": "2026-10-05", "end": "2026-10-01"},
        {"sort": "evil", "split": "nonsense", "task": "abc", "batch": "maybe"},
        {"preset": "nope", "q": "x" * 500, "project": "proj_does_not_exist"},
    ],
)
def test_it_never_fails_on_bad_filters(viewer_client, completions_task, params):
    data = chart_data(viewer_client, completions_task, "completions", **params)
    assert isinstance(data, dict)


def test_it_answers_404_for_the_charts_of_an_unknown_table(viewer_client, completions_task):
    bad = reverse("connectors:table-charts", args=[completions_task.connector_id, "nope"])
    assert viewer_client.get(bad, headers=HTMX).status_code == 404


def money(value: Decimal) -> str:
    return f"${value.quantize(Decimal('0.01'), ROUND_HALF_UP):,}"


def test_it_shows_this_month_against_last_month_on_the_overview(
    viewer_client, costs_task, emulator
):
    url = reverse("connectors:connector-overview", args=[costs_task.connector_id])
    response = viewer_client.get(url, {"month": "2026-10"})
    html = response.content.decode()
    truth = per_bucket(emulator, "costs", SEPTEMBER, NOVEMBER, None, amount)
    october = sum(v for (x, _), v in truth.items() if x >= day(OCTOBER))
    september = sum(v for (x, _), v in truth.items() if x < day(OCTOBER))
    assert f'id="spend-this">{money(october)}</p>' in html
    assert f'id="spend-last">{money(september)}</p>' in html
    exact = re.search(r'title="([\d.]+) USD" id="spend-this"', html).group(1)
    assert Decimal(exact) == october  # the exact amount on hover
    change = ((october - september) / september * 100).quantize(Decimal("0.1"), ROUND_HALF_UP)
    assert f"{'+' if change > 0 else ''}{change} %" in html
    assert html.count('data-chart="chart-') == 3  # the trend, projects and models by cost


def test_it_draws_the_30_day_trend_and_tops_from_the_ground_truth(
    viewer_client, costs_task, completions_task, emulator
):
    url = reverse("connectors:connector-overview", args=[costs_task.connector_id])
    context = viewer_client.get(url, {"month": "2026-10"}).context
    specs = {c["id"]: c for c in context["charts"]}
    start = epoch("2026-10-02")  # the 30 days up to the end of October
    costs = per_bucket(emulator, "costs", start, NOVEMBER, None, amount)
    trend = specs["chart-trend"]
    assert dict(zip(trend["x"], trend["series"][0]["y"], strict=True)) == {
        x: v for (x, _), v in costs.items()
    }
    by_project = per_bucket(emulator, "costs", start, NOVEMBER, "project_id", amount)
    got = [(i["key"], i["value"]) for i in specs["chart-cost-projects"]["items"]]
    assert got == ranked(by_project)
    tokens = per_bucket(
        emulator,
        "completions",
        start,
        NOVEMBER,
        "model",
        lambda r: r["input_tokens"] + r["output_tokens"],
    )
    assert [(i["key"], i["value"]) for i in specs["chart-tokens-model"]["items"]] == ranked(tokens)
    by_line = per_bucket(emulator, "costs", start, NOVEMBER, "line_item", amount)
    models = defaultdict(int)
    for (_, item), value in by_line.items():
        models[overview.model_of(item)] += value
    expected = sorted(models.items(), key=lambda m: (-m[1], m[0]))[: charts.TOP]
    assert [(i["key"], i["value"]) for i in specs["chart-cost-models"]["items"]] == expected


def test_it_shows_freshness_and_a_failing_tasks_error(
    viewer_client, costs_task, make_task, live_connector
):
    live_connector.set_admin_key(DEMO_NO_USAGE_KEY)
    live_connector.save()
    failing = make_task("completions", StartTime="2026-10-01", EndTime="2026-10-02")
    run = run_now(failing)
    assert run.status == "failed" and run.error
    url = reverse("connectors:connector-overview", args=[live_connector.pk])
    response = viewer_client.get(url)
    html = response.content.decode()
    assert escape(run.error) in html
    health = {h["task"].pk: h for h in response.context["tasks"]}
    assert health[failing.pk]["failing"] and not health[costs_task.pk]["failing"]
    last_success = costs_task.runs.get().finished_at
    assert health[costs_task.pk]["task"].last_success == last_success
    newest = USAGE_TABLES["costs"].objects.filter(task=costs_task).order_by("-start_time").first()
    assert health[costs_task.pk]["newest"] == newest.end_time
    assert health[costs_task.pk]["provisional"] == (["costs"] if newest.provisional else [])


def test_it_explains_a_bad_month_instead_of_failing(viewer_client, costs_task):
    url = reverse("connectors:connector-overview", args=[costs_task.connector_id])
    response = viewer_client.get(url, {"month": "someday"})
    assert response.status_code == 200
    assert "is not a month" in response.content.decode()
    for month in ("0001-01", "9999-12"):  # the month before or after has no date
        response = viewer_client.get(url, {"month": month})
        assert response.status_code == 200 and "is out of range" in response.content.decode()


def test_it_asks_anonymous_visitors_to_log_in(client, connector):
    for url in (
        reverse("connectors:connector-overview", args=[connector.pk]),
        reverse("connectors:table-charts", args=[connector.pk, "costs"]),
    ):
        response = client.get(url, headers=HTMX)
        assert response.status_code == 302 and "login" in response.url


def test_it_lets_viewers_see_the_overview_and_links_it(viewer_client, connector):
    url = reverse("connectors:connector-overview", args=[connector.pk])
    assert viewer_client.get(url).status_code == 200
    detail = viewer_client.get(reverse("connectors:connector-detail", args=[connector.pk]))
    assert f'href="{url}"' in detail.content.decode()


def test_it_serves_chart_js_from_the_installed_npm_package(viewer_client):
    bundle = viewer_client.get(static("vendor/chart.js/chart.umd.min.js"))
    assert bundle.status_code == 200
    assert b"Chart.js v4." in b"".join(bundle.streaming_content)[:200]
    assert viewer_client.get(static("js/charts.js")).status_code == 200


@pytest.fixture
def hourly_task(make_task):
    """The last ten hours of completions in 1h buckets by model, collected once."""
    start = datetime.fromtimestamp(EMULATOR_NOW, UTC) - timedelta(hours=10)
    task = make_task(
        "completions",
        StartTime=start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        BucketWidth="1h",
        GroupBy=["model"],
    )
    assert run_now(task).status == "succeeded"
    return task


def test_it_keeps_charts_and_totals_equal_to_the_ground_truth_through_revisions(
    viewer_client, staff_client, hourly_task, emulator
):
    task = hourly_task
    emulator.advance(2 * 3600)  # the second run re-reads and revises the last buckets
    second = run_now(task)
    assert second.status == "succeeded" and second.rows_updated > 0
    model_at = [f.column for f in STREAMS["completions"].dimensions].index("model")
    by_model = defaultdict(int)
    for (_, dims), values in truth_rows(emulator, task, "completions").items():
        by_model[dims[model_at]] += values["inputTokens"] + values["outputTokens"]
    expected = sorted(
        ((m, v) for m, v in by_model.items() if m), key=lambda item: (-item[1], item[0])
    )
    data = chart_data(viewer_client, task, "completions", task=task.pk)
    assert [(i["key"], i["value"]) for i in data["chart-top-model"]["items"]] == expected
    table = reverse("connectors:table-detail", args=[task.connector_id, "completions"])
    html = staff_client.get(table, {"preset": "all", "task": task.pk}).content.decode()
    total = sum(v["inputTokens"] for v in truth_rows(emulator, task, "completions").values())
    assert f'<td class="num">{total:,}</td>' in html


def test_it_keeps_a_series_for_a_model_whose_sums_are_zero(viewer_client, completions_task):
    from connectors.openai import rollup

    rows = USAGE_TABLES["completions"].objects.filter(task=completions_task)
    idle = rows.values_list("model", flat=True).order_by("model").first()
    rows.filter(model=idle).update(inputTokens=0, outputTokens=0)
    with transaction.atomic():
        rollup.refresh_days(
            STREAMS["completions"],
            completions_task.pk,
            "1d",
            datetime_of(OCTOBER),
            datetime_of(NOVEMBER),
        )
    spec = chart_data(viewer_client, completions_task, "completions")["chart-main"]
    models = set(rows.values_list("model", flat=True))
    shown = {s["key"] for s in spec["series"] if s["key"] is not None}
    other = next((s["name"] for s in spec["series"] if s["key"] is None), "Other (0)")
    assert len(shown) + int(other.split("(")[1].rstrip(")")) == len(models)
    assert idle in shown or len(shown) == charts.STACKED


def datetime_of(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


@pytest.fixture
def local_time_not_utc(monkeypatch):
    """The process's own time zone set far from UTC, as on a server that keeps local
    time: chart slots must not depend on it."""
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_it_charts_hourly_buckets_per_hour_in_utc_like_the_ground_truth(
    local_time_not_utc, viewer_client, hourly_task, emulator
):
    task = hourly_task
    model_at = [f.column for f in STREAMS["completions"].dimensions].index("model")
    truth = defaultdict(int)
    for (bucket_start, dims), values in truth_rows(emulator, task, "completions").items():
        truth[(day(bucket_start), dims[model_at])] += values["inputTokens"] + values["outputTokens"]
    spec = chart_data(viewer_client, task, "completions", task=task.pk)["chart-main"]
    assert spec["grain"] == "hour"
    shown = {s["key"] for s in spec["series"] if s["key"] is not None}
    got = {k: v for k, v in stacked(spec).items() if k[1] is not None}
    assert got == {k: v for k, v in truth.items() if k[1] in shown and v}
    assert spec["x"] == sorted({x for x, _ in truth})


def test_it_offers_only_the_groupings_the_data_has_and_names_every_series(
    viewer_client, make_task, emulator
):
    task = make_task(
        "completions",
        StartTime="2026-10-01",
        EndTime="2026-11-01",
        BucketWidth="1d",
        GroupBy=["project_id"],
    )
    assert run_now(task).status == "succeeded"
    base = reverse("connectors:table-charts", args=[task.connector_id, "completions"])
    html = viewer_client.get(base, {"preset": "all"}, headers=HTMX).content.decode()
    assert 'name="split" value="project"' in html
    assert 'name="split" value="model"' not in html  # no task grouped by model
    for split in ("", "model", "project", "metric"):
        found = chart_data(viewer_client, task, "completions", split=split)
        for chart_id, spec in found.items():
            names = [s["name"] for s in spec.get("series", [])]
            names += [item["name"] for item in spec.get("items", [])]
            assert all(names) and "(none)" not in names, (split, chart_id, names)
    spec = chart_data(viewer_client, task, "completions", split="model")["chart-main"]
    truth = per_bucket(
        emulator,
        "completions",
        OCTOBER,
        NOVEMBER,
        "project_id",
        lambda r: r["input_tokens"] + r["output_tokens"],
    )
    assert sum(sum(Decimal(str(y)) for y in s["y"]) for s in spec["series"]) == sum(truth.values())


def test_it_shows_hours_in_the_users_zone_and_days_as_utc_days(viewer_client, make_task, emulator):
    hourly = make_task(
        "completions", StartTime="2026-10-05", EndTime="2026-10-06", BucketWidth="1h"
    )
    assert run_now(hourly).status == "succeeded"
    response = viewer_client.post(reverse("connectors:preferences"), {"time_zone": "Asia/Tokyo"})
    assert response.status_code == 302
    spec = chart_data(viewer_client, hourly, "completions")["chart-main"]
    assert spec["grain"] == "hour" and spec["zone"] == "Asia/Tokyo"
    buckets = emulator.ground_truth(
        "completions", start=epoch("2026-10-05"), end=epoch("2026-10-06"), bucket_width="1h"
    )
    used = [b for b in buckets if b["results"]]
    first = datetime.fromtimestamp(used[0]["start_time"], UTC) + timedelta(hours=9)
    assert spec["x"][0] == first.strftime("%Y-%m-%d %H:%M:%S")  # UTC+9 in Tokyo
