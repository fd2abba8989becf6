"""Dates out of any sane range are refused with a message on their field, in words: START
and END TIME from 2020-01-01 (OpenAI holds no data before), the schedule's Start date from
2020-01-01 to ten years ahead, a CRON expression that can run; whatever the schedule's
state, and whatever is posted around the form."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from connectors.models import Task
from connectors.setup.schedule_form import ScheduleForm
from connectors.setup.task_form import TaskForm

SCHEDULE = {"interval_unit": "daily", "interval_every": "1", "queue_behaviour": "skip"}
ABSURD_TIMES = ["0001-01-01", "2019-12-31T23:59:59Z", "9999-12-31T23:59-01:00"]


def add_url(connector) -> str:
    return reverse("connectors:task-add", args=[connector.pk])


def base_data(query_type: str) -> dict[str, str]:
    if query_type == "all":
        return {"type": "all", "shared-StartTime": "2026-01-01", "shared-BucketWidth": "1d"}
    return {"type": query_type, f"{query_type}-StartTime": "2026-01-01"}


@pytest.mark.parametrize("value", ABSURD_TIMES)
@pytest.mark.parametrize(
    ("query_type", "field"),
    [
        ("completions", "completions-StartTime"),
        ("completions", "completions-EndTime"),
        ("costs", "costs-StartTime"),
        ("generic", "generic-StartTime"),
        ("generic", "generic-EndTime"),
        ("all", "shared-StartTime"),
        ("all", "shared-EndTime"),
        ("all", "images-StartTime"),  # a section's own value under `all`
        ("all", "costs-EndTime"),
    ],
)
def test_it_refuses_a_time_outside_the_range_openai_has_data_for(query_type, field, value):
    form = TaskForm(base_data(query_type) | {field: value}, query_type=query_type)
    assert not form.is_valid()
    assert "outside the range OpenAI has data for" in form.errors[field][0]
    assert "from 2020-01-01 to today" in form.errors[field][0]


def test_it_accepts_the_first_day_of_the_range():
    data = base_data("completions") | {"completions-StartTime": "2020-01-01T00:00:00Z"}
    data |= {"completions-EndTime": "2020-01-02"}
    form = TaskForm(data, query_type="completions")
    assert form.is_valid(), form.errors
    assert form.parameters()["completions-StartTime"] == "2020-01-01"


def test_it_answers_a_time_beyond_the_year_9999_in_utc_with_a_message(staff_client, connector):
    data = base_data("completions") | {"completions-EndTime": "9999-12-31T23:59-01:00"} | SCHEDULE
    response = staff_client.post(add_url(connector), data)
    assert response.status_code == 200
    assert "END TIME “9999-12-31T23:59-01:00” is outside the range" in response.content.decode()
    assert not Task.objects.exists()


# --- the schedule's Start date --------------------------------------------------------


def schedule_data(**overrides) -> dict[str, str]:
    data = {"schedule_enabled": "on", "schedule_start": "2026-01-01T06:00", "cron": ""}
    return data | SCHEDULE | overrides


def in_ten_years_and_a_day() -> str:
    moment = timezone.now() + timedelta(days=365 * 10 + 3 + 1)  # 10 years hold 2 or 3 leap days
    return f"{moment:%Y-%m-%dT%H:%M}"


@pytest.mark.parametrize("enabled", ["on", ""])
@pytest.mark.parametrize(
    ("zone", "start"),
    [
        ("UTC", "0001-01-01T00:00"),
        ("Europe/Berlin", "0001-01-01T00:00"),  # before the year 1 in UTC
        ("UTC", "2019-12-31T23:59"),
        ("UTC", "9999-12-31T23:59"),
        ("America/New_York", "9999-12-31T23:59"),  # after the year 9999 in UTC
        ("UTC", "later"),
    ],
)
def test_it_refuses_a_start_date_out_of_range_even_while_disabled(zone, start, enabled):
    start = in_ten_years_and_a_day() if start == "later" else start
    with timezone.override(ZoneInfo(zone)):
        form = ScheduleForm(schedule_data(schedule_start=start, schedule_enabled=enabled))
        assert not form.is_valid()
    assert form.errors["schedule_start"][0].startswith("Start date must be between 2020-01-01 and")


def test_it_accepts_a_start_date_nine_years_ahead():
    start = f"{timezone.now() + timedelta(days=365 * 9):%Y-%m-%dT%H:%M}"
    form = ScheduleForm(schedule_data(schedule_start=start), instance=Task())
    assert form.is_valid(), form.errors


def test_it_saves_nothing_for_an_out_of_range_start_date(staff_client, connector):
    data = base_data("completions") | schedule_data(schedule_start="0001-01-01T00:00")
    response = staff_client.post(add_url(connector), data)
    assert response.status_code == 200
    assert "Start date must be between 2020-01-01 and" in response.content.decode()
    assert not Task.objects.exists()


# --- CRON ---------------------------------------------------------------------------


@pytest.mark.parametrize("enabled", ["on", ""])
@pytest.mark.parametrize(
    ("cron", "message"),
    [
        ("hello world", "is not a valid five-field CRON expression"),
        ("61 * * * *", "is not a valid five-field CRON expression"),
        ("0 3 30 2 *", "never matches a date"),  # the 30th of February
    ],
)
def test_it_refuses_a_cron_expression_that_cannot_run_even_while_disabled(cron, message, enabled):
    data = schedule_data(interval_unit="cron", cron=cron, schedule_enabled=enabled)
    form = ScheduleForm(data, instance=Task())
    assert not form.is_valid()
    assert message in form.errors["cron"][0]


def test_it_keeps_an_edited_task_unchanged_when_its_disabled_cron_is_invalid(staff_client, task):
    url = reverse("connectors:task-edit", args=[task.pk])
    data = base_data("completions") | schedule_data(
        schedule_enabled="", interval_unit="cron", cron="every day at noon"
    )
    response = staff_client.post(url, data | {"name": "Renamed"})
    assert response.status_code == 200
    assert "is not a valid five-field CRON expression" in response.content.decode()
    task.refresh_from_db()
    assert (task.name, task.interval_unit, task.cron) == ("Completions by project", "daily", "")


# --- a large backfill needs its confirmation, whatever is posted ----------------------


def minute_buckets_since_2020() -> dict[str, str]:
    data = {"type": "completions", "completions-StartTime": "2020-01-01"}
    return data | {"completions-BucketWidth": "1m"} | SCHEDULE


def requests_since_2020_in_minutes() -> int:
    """From the contract: a 1m bucket per minute, at most 1440 of them per page."""
    minutes = (datetime.now(UTC) - datetime(2020, 1, 1, tzinfo=UTC)) / timedelta(minutes=1)
    return math.ceil(minutes / 1440)


def shown_confirmation(html: str) -> int:
    found = re.search(r"I understand this backfill makes (\d+) requests", html)
    assert found, "the confirmation is shown"
    return int(found.group(1))


@pytest.mark.parametrize("htmx", [False, True])
def test_it_saves_a_backfill_since_2020_in_minutes_only_once_confirmed(
    staff_client, connector, htmx
):
    headers = {"HX-Request": "true"} if htmx else {}
    data = minute_buckets_since_2020()
    refused = staff_client.post(add_url(connector), data, headers=headers)
    assert refused.status_code == 200 and not Task.objects.exists()
    requests = shown_confirmation(refused.content.decode())
    assert abs(requests - requests_since_2020_in_minutes()) <= 1
    for forged in ("", "1", "yes", str(requests + 1000)):
        forged_data = data | {"confirm_requests": forged}
        response = staff_client.post(add_url(connector), forged_data, headers=headers)
        assert response.status_code == 200 and not Task.objects.exists(), forged
    confirmed = data | {"confirm_requests": str(requests)}
    staff_client.post(add_url(connector), confirmed, headers=headers)
    assert Task.objects.get().parameters["completions-StartTime"] == "2020-01-01"


def test_it_keeps_a_task_unchanged_when_an_edit_widens_it_without_confirmation(staff_client, task):
    url = reverse("connectors:task-edit", args=[task.pk])
    before = dict(task.parameters)
    response = staff_client.post(url, minute_buckets_since_2020())
    assert response.status_code == 200
    assert shown_confirmation(response.content.decode()) > 1000
    task.refresh_from_db()
    assert task.parameters == before


def test_it_refuses_a_start_in_the_year_1_on_its_field_not_with_a_confirmation(
    staff_client, connector
):
    data = minute_buckets_since_2020() | {"completions-StartTime": "0001-01-01"}
    response = staff_client.post(add_url(connector), data | {"confirm_requests": "999999999"})
    html = response.content.decode()
    assert response.status_code == 200 and not Task.objects.exists()
    assert "START TIME “0001-01-01” is outside the range OpenAI has data for" in html
    assert "I understand this backfill" not in html
