"""The All organizations page: each connector's spend and the total equal the emulator's
ground truth (two overlapping costs tasks still count each day once), the top projects
and models rank every organization together, a connector without costs says so instead
of showing $0, and only logged-in users see it."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.urls import reverse
from django.utils.html import escape

from connectors.explore import charts, overview
from connectors.models import USAGE_TABLES, Connector, Task
from connectors.openai.emulator import DEFAULT_SEED, DEMO_NO_USAGE_KEY
from connectors.openai.emulator.truth import totals as truth_totals
from tests.collection.conftest import epoch, run_now

URL = reverse("connectors:overview-all")
SEPTEMBER, OCTOBER, NOVEMBER = epoch("2026-09-01"), epoch("2026-10-01"), epoch("2026-11-01")
OCTOBER_AT = datetime(2026, 10, 1, tzinfo=UTC)
SECOND_KEY = "sk-admin-second-organization-key"
SECOND_SEED = DEFAULT_SEED + 1  # the emulator serves another organization for this key


def money(value: Decimal) -> str:
    return f"${value.quantize(Decimal('0.01'), ROUND_HALF_UP):,}"


def percent(this: Decimal, last: Decimal) -> str:
    change = ((this - last) / last * 100).quantize(Decimal("0.1"), ROUND_HALF_UP)
    return f"{'+' if change > 0 else ''}{change} %"


def spend(emulator, start: int, end: int, seed: int) -> Decimal:
    buckets = emulator.ground_truth("costs", start=start, end=end, bucket_width="1d", seed=seed)
    return Decimal(truth_totals(buckets).get("amount.value", 0))


def by(emulator, group: str, seed: int) -> dict[str, Decimal]:
    """October's cost per value of `group` (project_id or line_item), None left out."""
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for bucket in emulator.ground_truth(
        "costs", start=OCTOBER, end=NOVEMBER, bucket_width="1d", group_by=[group], seed=seed
    ):
        for result in bucket["results"]:
            if result.get(group) is not None:
                sums[result[group]] += Decimal(str(result["amount"]["value"]))
    return sums


def costs_task(connector: Connector, **parameters) -> Task:
    """A costs task over September and October, collected from the emulator."""
    params = {"type": "costs", "costs-StartTime": "2026-09-01", "costs-EndTime": "2026-11-01"}
    params |= {f"costs-{k}": v for k, v in parameters.items()}
    task = Task.objects.create(connector=connector, query_type="costs", parameters=params)
    run = run_now(task)
    assert run.status == "succeeded", run.error
    return task


def cell(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}">(.*?)</', html, re.S)
    assert found, element_id
    return found.group(1).strip()


@pytest.fixture
def orgs(live_connector, emulator):
    """Three connectors: the default organization with two costs tasks over the same
    days (by project and line item, and ungrouped), a second organization with one, and
    a third whose key cannot read usage, with a completions task that failed."""
    grouped = costs_task(live_connector, GroupBy=["project_id", "line_item"])
    costs_task(live_connector)
    emulator.add_key(SECOND_KEY, seed=SECOND_SEED)
    second = Connector(kind="openai", name="Second org", base_url=live_connector.base_url)
    second.requests_per_minute = 0
    second.set_admin_key(SECOND_KEY)
    second.save()
    costs_task(second, GroupBy=["project_id", "line_item"])
    third = Connector(kind="openai", name="Third org", base_url=live_connector.base_url)
    third.set_admin_key(DEMO_NO_USAGE_KEY)
    third.save()
    failing = Task.objects.create(
        connector=third,
        query_type="completions",
        parameters={"type": "completions", "completions-StartTime": "2026-10-01"},
    )
    assert run_now(failing).status == "failed"
    return {"first": grouped.connector, "second": second, "third": third}


def test_it_shows_each_organizations_spend_and_the_total_equal_to_the_truth(
    viewer_client, orgs, emulator
):
    html = viewer_client.get(URL, {"month": "2026-10"}).content.decode()
    seeds = {orgs["first"].pk: DEFAULT_SEED, orgs["second"].pk: SECOND_SEED}
    october = {pk: spend(emulator, OCTOBER, NOVEMBER, seed) for pk, seed in seeds.items()}
    september = {pk: spend(emulator, SEPTEMBER, OCTOBER, seed) for pk, seed in seeds.items()}
    for pk in seeds:
        assert cell(html, f"spend-this-{pk}") == money(october[pk])
        assert cell(html, f"spend-last-{pk}") == money(september[pk])
        assert cell(html, f"spend-change-{pk}") == percent(october[pk], september[pk])
    this, last = sum(october.values()), sum(september.values())
    assert cell(html, "spend-this-total") == money(this)
    assert cell(html, "spend-last-total") == money(last)
    assert cell(html, "spend-change-total") == percent(this, last)


def test_it_counts_the_days_two_overlapping_tasks_hold_once(viewer_client, orgs, emulator):
    first = orgs["first"]
    stored = USAGE_TABLES["costs"].objects.filter(connector=first, start_time__gte=OCTOBER_AT)
    october = spend(emulator, OCTOBER, NOVEMBER, DEFAULT_SEED)
    assert first.tasks.filter(query_type="costs").count() == 2
    assert sum(row.amountValue for row in stored) > october  # both tasks hold October
    html = viewer_client.get(URL, {"month": "2026-10"}).content.decode()
    assert cell(html, f"spend-this-{first.pk}") == money(october)


def test_it_shows_a_dash_and_the_reason_for_an_organization_without_costs(viewer_client, orgs):
    response = viewer_client.get(URL, {"month": "2026-10"})
    html = response.content.decode()
    third = orgs["third"].pk
    row = re.search(rf'<tr id="spend-{third}">(.*?)</tr>', html, re.S).group(1)
    for column in ("this", "last", "change"):
        assert cell(html, f"spend-{column}-{third}") == "—"
    assert "$" not in row
    spent = {r["connector"].pk: r["spend"] for r in response.context["spend"]}[third]
    assert not spent["answered"] and spent["answer"].grain_problem
    assert escape(spent["answer"].grain_problem) in row
    assert escape(spent["answer"].suggestion) in row
    assert "Not in the totals: Third org" in html


def test_it_ranks_projects_of_every_organization_together(viewer_client, orgs, emulator):
    response = viewer_client.get(URL, {"month": "2026-10"})
    truth = [
        ((orgs[name].pk, project), value)
        for name, seed in (("first", DEFAULT_SEED), ("second", SECOND_SEED))
        for project, value in by(emulator, "project_id", seed).items()
    ]
    expected = sorted(truth, key=lambda item: -item[1])[: charts.TOP]
    shown = response.context["projects"]
    assert [((i["connector"].pk, i["key"]), i["value"]) for i in shown] == expected
    names = {p["id"]: p["name"] for p in emulator.directory_truth(seed=SECOND_SEED)["projects"]}
    names |= {p["id"]: p["name"] for p in emulator.directory_truth()["projects"]}
    html = response.content.decode()
    for item in shown:
        assert item["name"].startswith(names[item["key"]])
        assert item["name"].endswith(f" · {item['connector'].name}")
        assert escape(item["name"]) in html


def test_it_ranks_models_by_their_cost_summed_across_organizations(viewer_client, orgs, emulator):
    response = viewer_client.get(URL, {"month": "2026-10"})
    models: dict[str, Decimal] = defaultdict(Decimal)
    for seed in (DEFAULT_SEED, SECOND_SEED):
        for line_item, value in by(emulator, "line_item", seed).items():
            models[overview.model_of(line_item)] += value
    expected = sorted(models.items(), key=lambda m: (-m[1], m[0]))[: charts.TOP]
    assert [(i["name"], i["value"]) for i in response.context["models"]] == expected
    assert money(expected[0][1]) in response.content.decode()


def test_it_names_the_days_not_collected_and_shows_no_figure_for_them(
    viewer_client, orgs, emulator
):
    html = viewer_client.get(URL, {"month": "2026-11"}).content.decode()
    first = orgs["first"].pk
    row = re.search(rf'<tr id="spend-{first}">(.*?)</tr>', html, re.S).group(1)
    assert "Not collected: 2026-11-01 – 2026-11-30" in row  # the emulator's clock: Nov 1
    assert cell(html, f"spend-this-{first}") == cell(html, "spend-this-total") == "—"
    assert cell(html, f"spend-last-{first}") == money(
        spend(emulator, OCTOBER, NOVEMBER, DEFAULT_SEED)
    )
    october = sum(spend(emulator, OCTOBER, NOVEMBER, seed) for seed in (DEFAULT_SEED, SECOND_SEED))
    assert cell(html, "spend-last-total") == money(october)
    assert cell(html, "spend-change-total") == "—"


def test_it_shows_each_organizations_freshness_and_failing_tasks(viewer_client, orgs):
    response = viewer_client.get(URL, {"month": "2026-10"})
    html = response.content.decode()
    for name in ("first", "second"):
        assert cell(html, f"newest-{orgs[name].pk}") == "2026-11-01 00:00"
        assert "0" in cell(html, f"failing-{orgs[name].pk}")
    third = {f["connector"].pk: f for f in response.context["freshness"]}[orgs["third"].pk]
    assert third["newest"] is None and len(third["failing"]) == 1
    assert "1 failing" in html


def test_it_lets_viewers_see_the_page_from_the_top_navigation(viewer_client, connector):
    response = viewer_client.get(URL)
    assert response.status_code == 200
    assert f'href="{URL}"' in response.content.decode()
    assert "All organizations" in response.content.decode()


def test_it_asks_anonymous_visitors_to_log_in(client, connector):
    response = client.get(URL)
    assert response.status_code == 302 and "login" in response.url


@pytest.mark.parametrize("month", ["someday", "2026-13", "0001-01", "9999-12", "2999-01"])
def test_it_explains_a_bad_month_instead_of_failing(viewer_client, connector, month):
    response = viewer_client.get(URL, {"month": month})
    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()
