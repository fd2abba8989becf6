"""The Content-Security-Policy holds on the pages that script the most: a table page with
its charts, the Overview, a task form with its live estimate and a run page that polls.
Nothing is refused (no `securitypolicyviolation` event, no console message about the
policy, no script error) and the charts are drawn and answer a hover."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from connectors.collection import engine
from connectors.models import Connector, RunStatus, RunTrigger, Task, TaskRun
from tests.browser.test_data_pages import org

__all__ = ["org"]  # the fixture, shared with the data pages' journeys

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.reportViolation(`${e.effectiveDirective} blocked ${e.blockedURI || "inline"}`
    + ` at ${e.sourceFile}:${e.lineNumber} ${e.sample}`);
});
"""


@pytest.fixture
def refused(page) -> list[str]:
    """Everything the browser refused or failed at, as it happens, on every page loaded."""
    seen: list[str] = []
    page.expose_function("reportViolation", lambda text: seen.append(text))
    page.add_init_script(REPORT_VIOLATIONS)
    page.on(
        "console",
        lambda m: seen.append(m.text) if "Content Security Policy" in m.text else None,
    )
    page.on("pageerror", lambda error: seen.append(f"script error: {error}"))
    return seen


def collect(connector: Connector, query_type: str, **parameters) -> Task:
    params = {"type": query_type} | {f"{query_type}-{k}": v for k, v in parameters.items()}
    task = Task.objects.create(
        connector=connector, name=f"{query_type} task", query_type=query_type, parameters=params
    )
    run = TaskRun.objects.create(task=task, trigger="manual")
    engine.run_execute(run.pk)
    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    return task


def wait_until(page, condition: str) -> None:
    """Poll a condition from outside the page: Playwright's wait_for_function polls with an
    eval inside the page, which this policy refuses."""
    for _ in range(300):
        if page.evaluate(condition):
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"never true: {condition}")


def charts_drawn(page, count: int) -> None:
    """At least `count` charts drawn by Chart.js, sized by the page's style sheet, the
    first one answering a hover."""
    wait_until(
        page,
        "[...document.querySelectorAll('[data-chart] canvas')]"
        f".filter((c) => window.Chart && Chart.getChart(c)).length >= {count}",
    )
    box = page.evaluate(
        """() => {
          const canvas = document.querySelector('[data-chart] canvas');
          canvas.scrollIntoView({block: 'center'});
          const r = canvas.getBoundingClientRect();
          return {x: r.x, y: r.y, width: r.width, height: r.height};
        }"""
    )
    assert box["width"] > 200 and box["height"] > 100
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    wait_until(
        page, "Chart.getChart(document.querySelector('[data-chart] canvas')).tooltip.opacity > 0"
    )


def hover_a_bar(page) -> None:
    """The hover label of a ranked chart, over its first bar."""
    point = page.evaluate(
        """() => {
          const canvas = document.querySelector('.chart-top [data-chart] canvas');
          canvas.scrollIntoView({block: 'center'});
          const bar = Chart.getChart(canvas).getDatasetMeta(0).data[0];
          const r = canvas.getBoundingClientRect();
          return {x: r.x + (bar.x + bar.base) / 2, y: r.y + bar.y};
        }"""
    )
    page.mouse.move(point["x"], point["y"])
    wait_until(
        page,
        "Chart.getChart(document.querySelector('.chart-top [data-chart] canvas'))"
        ".tooltip.opacity > 0",
    )


def test_it_sends_a_policy_without_inline_script_or_eval(client, user):
    client.force_login(user)
    policy = client.get("/connectors/").headers["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["default-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert directives["style-src"] == "'self'"
    assert "unsafe" not in policy


def test_the_data_pages_draw_their_charts_within_the_policy(
    page, live_server, admin_login, refused, shot, org
):
    collect(
        org,
        "completions",
        StartTime="2026-10-01",
        EndTime="2026-11-01",
        BucketWidth="1d",
        GroupBy=["project_id", "model"],
    )
    collect(org, "costs", StartTime="2026-09-01", EndTime="2026-11-01")
    admin_login()

    page.goto(f"{live_server.url}/connectors/{org.pk}/tables/completions/?preset=all")
    charts_drawn(page, 1)
    page.evaluate("document.querySelectorAll('[data-chart]').forEach((c) => c.dataset.old = 1)")
    page.locator("#table-charts fieldset.toggle label").last.click()
    # The charts come again through htmx and are drawn again.
    wait_until(page, "!document.querySelector('[data-chart][data-old]')")
    charts_drawn(page, 1)
    shot("table-charts")
    assert refused == []

    page.goto(f"{live_server.url}/connectors/{org.pk}/overview/?month=2026-10")
    charts_drawn(page, 2)
    hover_a_bar(page)
    shot("overview")
    assert refused == []


def test_the_task_form_estimates_within_the_policy(
    page, live_server, admin_login, refused, shot, org
):
    admin_login()
    page.goto(f"{live_server.url}/connectors/{org.pk}/tasks/add/")
    page.select_option("select[name=type]", "completions")
    page.wait_for_selector("#task-params :text('completions')")
    page.fill("input[name='completions-StartTime']", "2026-01-01")
    page.wait_for_selector("#task-estimate :text('Request estimate:')")
    shot("task-form")
    assert refused == []


def test_a_run_page_polls_within_the_policy(page, live_server, admin_login, refused, shot, org):
    task = Task.objects.create(
        connector=org,
        name="Daily completions",
        query_type="completions",
        parameters={"type": "completions", "completions-StartTime": "2026-01-01"},
    )
    run = TaskRun.objects.create(
        task=task,
        trigger=RunTrigger.MANUAL,
        status=RunStatus.RUNNING,
        started_at=timezone.now() - timedelta(seconds=5),
        heartbeat_at=timezone.now(),
        requests_made=10,
        requests_planned=40,
    )
    admin_login()
    page.goto(f"{live_server.url}/runs/{run.pk}/")
    page.wait_for_selector("text=10 of 40 requests · 25 %")
    TaskRun.objects.filter(pk=run.pk).update(requests_made=30)
    page.wait_for_selector("text=30 of 40 requests · 75 %")  # polled in by htmx
    TaskRun.objects.filter(pk=run.pk).update(
        status=RunStatus.SUCCEEDED, finished_at=timezone.now(), requests_made=40
    )
    page.wait_for_selector("#run-live .badge.ok:has-text('Succeeded')")
    shot("run")
    assert refused == []


def test_the_login_page_and_the_admin_site_keep_to_the_policy(
    page, live_server, admin_login, refused, django_user_model
):
    page.goto(f"{live_server.url}/login/")
    user = django_user_model.objects.get(username="ada")
    user.is_superuser = True
    user.save()
    admin_login()
    for path in ("/admin/", f"/admin/auth/user/{user.pk}/change/", "/admin/password_change/"):
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("load")
    assert refused == []
