"""The Tasks page polls its tasks and history while a run is queued or running, and stops
once nothing is: the answer is the live block alone, its last one with status 286."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from connectors.models import RunStatus, RunTrigger, TaskRun

LIVE = {"HX-Request": "true", "HX-Target": "tasks-live"}
POLLING = 'hx-trigger="every 2s"'


def test_it_polls_the_tasks_page_while_a_run_is_going_and_then_stops(staff_client, task):
    url = reverse("connectors:task-list")
    run = TaskRun.objects.create(task=task, trigger=RunTrigger.MANUAL)  # queued
    page = staff_client.get(url).content.decode()
    assert f'<div id="tasks-live" aria-live="polite" hx-get="{url}" {POLLING}' in page
    assert "<h2>Upcoming</h2>" in page  # outside the live block

    TaskRun.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING,
        started_at=timezone.now() - timedelta(seconds=3),
        requests_made=1234,
        requests_planned=4000,
    )
    response = staff_client.get(url, headers=LIVE)
    live = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in live
    assert '<div id="tasks-live"' in live and POLLING in live
    assert "<h2>Upcoming</h2>" not in live
    assert "1,234 of 4,000 requests" in live  # the task's row
    assert "Running" in live

    TaskRun.objects.filter(pk=run.pk).update(
        status=RunStatus.SUCCEEDED, finished_at=timezone.now(), requests_made=4000
    )
    response = staff_client.get(url, headers=LIVE)
    final = response.content.decode()
    assert response.status_code == 286  # htmx stops polling, and swaps the final state
    assert "Succeeded" in final and "hx-trigger" not in final


def test_it_does_not_poll_the_tasks_page_with_nothing_going(staff_client, task):
    TaskRun.objects.create(
        task=task,
        trigger=RunTrigger.MANUAL,
        status=RunStatus.FAILED,
        started_at=timezone.now(),
        finished_at=timezone.now(),
    )
    page = staff_client.get(reverse("connectors:task-list")).content.decode()
    assert '<div id="tasks-live" aria-live="polite" hx-disinherit="*">' in page
