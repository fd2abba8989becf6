"""One task can never stop the scheduler: a task whose schedule cannot be computed (saved
before the form checked it, or written to the database by hand) is skipped with the reason
on its page, every other task still runs, and no page answers 500."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps as django_apps
from django.db import DataError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from connectors.collection import queue
from connectors.models import Preference, Task, TaskRun

# Schedules the form now refuses, as a task saved before the checks would hold them. The
# interval ones fired once already: the first time of any interval is its Start date.
FIRED_AT_START = {"schedule_fired_at": datetime(2026, 1, 1, tzinfo=UTC)}
BAD_SCHEDULES = {
    "start in the year 1": {"schedule_start": datetime(1, 1, 1, tzinfo=UTC)},
    "start in the year 1, CRON": {
        "schedule_start": datetime(1, 1, 1, tzinfo=UTC),
        "interval_unit": "cron",
        "cron": "0 3 * * *",
    },
    "CRON that never matches": {"interval_unit": "cron", "cron": "0 3 30 2 *"},
    "CRON that is not one": {"interval_unit": "cron", "cron": "every day at noon"},
    "every 0 days": {"interval_every": 0, **FIRED_AT_START},
    "every 900 million weeks": {
        "interval_unit": "weekly",
        "interval_every": 900_000_000,
        **FIRED_AT_START,
    },
}


def scheduled_task(connector, name: str, **schedule) -> Task:
    fields = {
        "schedule_enabled": True,
        "schedule_start": datetime(2026, 1, 1, tzinfo=UTC),
        "interval_unit": "daily",
        "interval_every": 1,
    }
    return Task.objects.create(
        connector=connector,
        name=name,
        query_type="users",
        parameters={"type": "users"},
        **(fields | schedule),
    )


@pytest.mark.parametrize("bad", BAD_SCHEDULES)
def test_it_skips_a_task_whose_schedule_cannot_be_computed_and_runs_the_next(
    connector, staff_client, bad
):
    broken = scheduled_task(connector, "Broken schedule", **BAD_SCHEDULES[bad])
    good = scheduled_task(
        connector,
        "Hourly users",
        schedule_start=timezone.now() - timedelta(hours=5, minutes=1),
        interval_unit="hours",
    )
    assert list(Task.objects.values_list("pk", flat=True)) == [broken.pk, good.pk]

    fired = queue.schedule_tick()

    assert [run.task_id for run in TaskRun.objects.filter(pk__in=fired)] == [good.pk]
    broken.refresh_from_db()
    assert broken.schedule_error.startswith("The schedule cannot be computed:")
    assert not broken.runs.exists()
    page = staff_client.get(reverse("connectors:task-detail", args=[broken.pk]))
    assert page.status_code == 200
    assert "The scheduler skipped this task: The schedule cannot be computed:" in (
        page.content.decode()
    )
    tasks = staff_client.get(reverse("connectors:task-list"))
    assert tasks.status_code == 200
    assert "cannot be computed" in tasks.content.decode()


def test_it_keeps_skipping_a_broken_task_without_stopping_later_ticks(connector):
    scheduled_task(connector, "Broken", schedule_start=datetime(1, 1, 1, tzinfo=UTC))
    scheduled_task(
        connector,
        "Minutely",
        schedule_start=timezone.now() - timedelta(minutes=30),
        interval_unit="minutes",
    )
    first = queue.schedule_tick()
    TaskRun.objects.update(status="succeeded")
    second = queue.schedule_tick(timezone.now() + timedelta(minutes=2))
    assert len(first) == len(second) == 1


def test_it_clears_the_stored_error_once_the_schedule_computes_again(connector, staff_client):
    task = scheduled_task(connector, "Fixed later", interval_unit="cron", cron="0 3 30 2 *")
    queue.schedule_tick()
    task.refresh_from_db()
    assert "never matches a date" in task.schedule_error
    Task.objects.filter(pk=task.pk).update(cron="0 3 * * *")  # fixed outside the form
    queue.schedule_tick()
    task.refresh_from_db()
    assert task.schedule_error == ""
    html = staff_client.get(reverse("connectors:task-detail", args=[task.pk])).content.decode()
    assert "The scheduler skipped this task" not in html


def test_saving_the_schedule_in_the_form_clears_the_stored_error(connector, staff_client):
    task = scheduled_task(connector, "Edited", interval_every=0, **FIRED_AT_START)
    queue.schedule_tick()
    task.refresh_from_db()
    assert "Every to 1 or more" in task.schedule_error
    data = {
        "type": "users",
        "schedule_enabled": "on",
        "schedule_start": "2026-01-01T00:00",
        "interval_unit": "daily",
        "interval_every": "1",
        "queue_behaviour": "skip",
    }
    response = staff_client.post(reverse("connectors:task-edit", args=[task.pk]), data)
    assert response.status_code == 302
    task.refresh_from_db()
    assert (task.interval_every, task.schedule_error) == (1, "")


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago"])
@pytest.mark.parametrize(
    ("start", "shown"),
    [
        (datetime(9999, 12, 31, 23, 59, tzinfo=UTC), "Next run: cannot be computed — "),
        (datetime(1, 1, 1, tzinfo=UTC), "Next run: cannot be computed — "),
        # the first runs are there; the later ones leave the calendar
        (datetime(9999, 12, 27, tzinfo=UTC), "Later runs: cannot be computed — "),
    ],
)
def test_it_shows_the_pages_of_a_task_whose_next_run_cannot_be_computed(
    connector, user, other_user, staff_client, viewer_client, zone, start, shown
):
    """In every time zone: from UTC-11 to UTC+14 such a start leaves Python's calendar."""
    task = scheduled_task(connector, "Far away", schedule_start=start)
    for person in (user, other_user):
        Preference.objects.create(user=person, time_zone=zone)
    for client in (staff_client, viewer_client):
        page = client.get(reverse("connectors:task-detail", args=[task.pk]))
        assert page.status_code == 200
        assert shown in page.content.decode()
        tasks = client.get(reverse("connectors:task-list"))
        assert tasks.status_code == 200
        if shown.startswith("Next run"):
            assert "cannot be computed" in tasks.content.decode()
    assert queue.schedule_tick() == []


@pytest.mark.parametrize(
    "start",
    [
        datetime(1, 1, 1, tzinfo=ZoneInfo("Europe/Berlin")),  # before the year 1 in UTC
        datetime(9999, 12, 31, 23, 59, tzinfo=ZoneInfo("America/New_York")),  # after 9999
    ],
)
def test_it_turns_off_a_start_date_python_cannot_read_back(connector, staff_client, start):
    """Saved before the checks, such a start made every page listing tasks answer 500;
    the migration turns the schedule off, with why, and the beat tick never loads it."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite cannot store such a start: Django converts it to UTC first")
    scheduled_task(connector, "Unreadable", schedule_start=start)
    good = scheduled_task(
        connector, "Hourly", schedule_start=timezone.now() - timedelta(hours=1, minutes=1)
    )
    with pytest.raises(DataError), transaction.atomic():
        list(Task.objects.all())
    fired = queue.schedule_tick()
    assert [run.task_id for run in TaskRun.objects.filter(pk__in=fired)] == [good.pk]

    migration = importlib.import_module("connectors.migrations.0016_task_schedule_error")
    with connection.schema_editor() as editor:
        migration.turn_off_unreadable_starts(django_apps, editor)

    unreadable = Task.objects.get(name="Unreadable")
    assert (unreadable.schedule_enabled, unreadable.schedule_start) == (False, None)
    assert unreadable.schedule_error.startswith("The schedule was turned off")
    assert Task.objects.get(pk=good.pk).schedule_start is not None
    assert staff_client.get(reverse("connectors:task-list")).status_code == 200
    page = staff_client.get(reverse("connectors:task-detail", args=[unreadable.pk]))
    assert "The schedule was turned off" in page.content.decode()
