"""Schedules: next run times for every interval, and CRON validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.collection.schedule import describe, next_run, upcoming
from connectors.models import Task
from connectors.setup.schedule_form import ScheduleForm


def scheduled(unit: str, every: int = 1, cron: str = "", start=None) -> Task:
    return Task(
        schedule_enabled=True,
        schedule_start=start or datetime(2026, 1, 31, 6, 30, tzinfo=UTC),
        interval_unit=unit,
        interval_every=every,
        cron=cron,
    )


def test_it_runs_first_at_the_start_date():
    task = scheduled("hours")
    assert next_run(task, datetime(2026, 1, 1, tzinfo=UTC)) == task.schedule_start


@pytest.mark.parametrize(
    ("unit", "every", "step"),
    [
        ("minutes", 15, timedelta(minutes=15)),
        ("hours", 6, timedelta(hours=6)),
        ("daily", 1, timedelta(days=1)),
        ("weekly", 2, timedelta(weeks=2)),
    ],
)
def test_it_steps_fixed_intervals_from_the_start(unit, every, step):
    task = scheduled(unit, every)
    after = task.schedule_start + step * 10 + timedelta(seconds=1)
    assert next_run(task, after) == task.schedule_start + step * 11
    assert next_run(task, task.schedule_start + step * 3) == task.schedule_start + step * 4


def test_it_keeps_the_day_of_month_and_clamps_short_months():
    task = scheduled("monthly")  # the 31st
    times = upcoming(task, task.schedule_start, count=3)
    assert times == [
        datetime(2026, 2, 28, 6, 30, tzinfo=UTC),
        datetime(2026, 3, 31, 6, 30, tzinfo=UTC),
        datetime(2026, 4, 30, 6, 30, tzinfo=UTC),
    ]


def test_it_follows_a_cron_expression_in_utc():
    task = scheduled("cron", cron="0 3 * * 1")  # Mondays 03:00
    first = next_run(task, datetime(2026, 2, 1, tzinfo=UTC))
    assert (first.weekday(), first.hour, first.minute) == (0, 3, 0)
    assert next_run(task, first) == first + timedelta(weeks=1)


def test_it_has_no_next_run_when_disabled():
    task = scheduled("daily")
    task.schedule_enabled = False
    assert next_run(task, datetime(2026, 1, 1, tzinfo=UTC)) is None
    assert describe(task).startswith("Not scheduled")


def schedule_data(**overrides) -> dict:
    data = {
        "schedule_enabled": "on",
        "schedule_start": "2026-01-01T06:00",
        "interval_unit": "daily",
        "interval_every": "1",
        "cron": "",
        "queue_behaviour": "skip",
    }
    return data | overrides


@pytest.mark.parametrize("cron", ["* * *", "61 * * * *", "hello world", "0 3 * * 1 2026"])
def test_it_refuses_an_invalid_cron_expression(cron):
    form = ScheduleForm(schedule_data(interval_unit="cron", cron=cron), instance=Task())
    assert not form.is_valid()
    assert "not a valid five-field CRON expression" in form.errors["cron"][0]


def test_it_requires_a_start_date_when_enabled():
    form = ScheduleForm(schedule_data(schedule_start=""), instance=Task())
    assert not form.is_valid()
    assert form.errors["schedule_start"] == ["A scheduled task needs a Start date."]


def test_it_defaults_to_not_starting_a_new_instance():
    assert Task().queue_behaviour == "skip"
    assert Task().get_queue_behaviour_display() == "Don't start a new instance"


@pytest.mark.parametrize("every", ["0", "-3", "100000"])
def test_it_bounds_the_interval(every):
    form = ScheduleForm(schedule_data(interval_every=every), instance=Task())
    assert not form.is_valid()
    assert "interval_every" in form.errors
