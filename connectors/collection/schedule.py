"""When a task's schedule runs next: pure functions of the task's schedule fields.

A schedule saved with absurd values (a Start date in year 1 or 9999, a CRON expression
that never matches) must not break the scheduler or a page: every computation that
cannot be done raises ScheduleError, whose message says why in words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from croniter import croniter
from dateutil.relativedelta import relativedelta
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

FIXED_STEPS = {"minutes": timedelta(minutes=1), "hours": timedelta(hours=1)}
DAY_STEPS = {"daily": timedelta(days=1), "weekly": timedelta(weeks=1)}

# The Start dates a form accepts: none before the OpenAI API existed, none further ahead
# than anyone plans a collection.
EARLIEST_START = datetime(2020, 1, 1, tzinfo=UTC)
YEARS_AHEAD = 10
# Times the scheduler computes stay this far inside what Python can represent, so any
# of them can still be shown in any time zone (UTC-12 to UTC+14).
COMPUTABLE = (datetime(1, 1, 3, tzinfo=UTC), datetime(9999, 12, 29, tzinfo=UTC))


class ScheduleError(Exception):
    """The next run of a schedule cannot be computed; the message says why, in words."""


def cron_is_valid(expression: str) -> bool:
    return len(expression.split()) == 5 and croniter.is_valid(expression)


def cron_problem(expression: str) -> str:
    """Why a CRON expression cannot be saved, in words; empty when it can."""
    shown = expression[:60]
    if not cron_is_valid(expression):
        return f"“{shown}” is not a valid five-field CRON expression."
    try:
        croniter(expression, timezone.now()).get_next(datetime)
    except ValueError:  # croniter's "failed to find next date"
        return f"“{shown}” never matches a date (such as the 30th of February)."
    return ""


def latest_start(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) + relativedelta(years=YEARS_AHEAD)


def validate_start(value: datetime | None) -> None:
    """A Start date between 2020-01-01 and ten years from now (UTC)."""
    if value is None:
        return
    latest = latest_start()
    if not EARLIEST_START <= value <= latest:
        raise ValidationError(
            f"Start date must be between {EARLIEST_START:%Y-%m-%d} and {latest:%Y-%m-%d} (UTC).",
            code="out_of_range",
        )


def next_run(task, after: datetime) -> datetime | None:
    """The first scheduled time strictly after `after`, or None when not scheduled.
    Raises ScheduleError when the schedule's values make it impossible to compute."""
    if not task.schedule_enabled or task.schedule_start is None:
        return None
    start = task.schedule_start
    _check_computable(start, "its Start date")
    try:
        moment = _next(task, start, after)
    except (OverflowError, ZeroDivisionError, KeyError, ValueError) as error:
        raise ScheduleError(_why(task, error)) from None
    _check_computable(moment, "the next run")
    return moment


def _next(task, start: datetime, after: datetime) -> datetime:
    if task.interval_unit == "cron":
        base = max(after, start - timedelta(seconds=1))
        return croniter(task.cron, base).get_next(datetime)
    if after < start:
        return start
    if task.interval_unit == "monthly":
        return _next_monthly(start, task.interval_every, after)
    step = (FIXED_STEPS | DAY_STEPS)[task.interval_unit] * task.interval_every
    periods = (after - start) // step + 1
    return start + periods * step


def _check_computable(moment: datetime, what: str) -> None:
    if not COMPUTABLE[0] <= moment <= COMPUTABLE[1]:
        raise ScheduleError(
            f"{what} ({_utc(moment)}) is outside the dates the scheduler can count in. "
            f"Edit the schedule: set a Start date between {EARLIEST_START:%Y-%m-%d} and "
            f"{latest_start():%Y-%m-%d}."
        )


def _why(task, error: Exception) -> str:
    if isinstance(error, OverflowError):
        return (
            f"counting from its Start date ({_utc(task.schedule_start)}) every "
            f"{task.interval_every} {task.interval_unit} leaves the dates the scheduler can "
            f"count in. Edit the schedule: set a Start date between "
            f"{EARLIEST_START:%Y-%m-%d} and {latest_start():%Y-%m-%d}."
        )
    if task.interval_unit == "cron":
        return cron_problem(task.cron) or f"the CRON expression “{task.cron[:60]}” fails."
    if isinstance(error, ZeroDivisionError):
        return "its interval is 0: set Every to 1 or more."
    return f"its interval “{task.interval_unit[:20]}” is not one the scheduler knows."


def _utc(moment: datetime) -> str:
    """The moment in UTC as text; date.isoformat keeps year 1 as 0001."""
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 with an offset: shown with its offset
        return f"{moment.date().isoformat()} {moment:%H:%M} {moment:%z}"
    return f"{moment.date().isoformat()} {moment:%H:%M} UTC"


def _next_monthly(start: datetime, every: int, after: datetime) -> datetime:
    # relativedelta from `start` keeps the day of month (clamped to short months).
    months = (after.year - start.year) * 12 + after.month - start.month
    n = max(0, months // every - 1)
    while (candidate := start + relativedelta(months=n * every)) <= after:
        n += 1
    return candidate


@dataclass(frozen=True)
class Forecast:
    """The next scheduled times, and why no more could be computed (empty: none failed)."""

    times: list[datetime] = field(default_factory=list)
    problem: str = ""

    @property
    def next(self) -> datetime | None:
        return self.times[0] if self.times else None


def forecast(task, after: datetime, count: int = 5) -> Forecast:
    """The next `count` scheduled times after `after`, stopping at the first that cannot
    be computed."""
    times: list[datetime] = []
    moment = after
    try:
        while len(times) < count and (moment := next_run(task, moment)) is not None:
            times.append(moment)
    except ScheduleError as error:
        return Forecast(times, str(error))
    return Forecast(times)


def upcoming(task, after: datetime, count: int = 5) -> list[datetime]:
    """The next `count` scheduled times after `after` (fewer when the rest cannot be
    computed)."""
    return forecast(task, after, count).times


def describe(task) -> SafeString:
    """The schedule in words, for the task page: the start in the active time zone (the
    user's, as the form reads it), a CRON expression as code."""
    if not task.schedule_enabled:
        return format_html("{}", "Not scheduled: runs only when started by hand.")
    start = _shown_start(task.schedule_start)
    if task.interval_unit == "cron":
        return format_html("CRON <code>{}</code> (UTC), from {}", task.cron, start)
    unit = {"daily": "day", "weekly": "week", "monthly": "month"}.get(
        task.interval_unit, task.interval_unit.rstrip("s")
    )
    every = "Every" if task.interval_every == 1 else f"Every {task.interval_every}"
    plural = "s" if task.interval_every > 1 else ""
    return format_html("{} {}{}, from {}", every, unit, plural, start)


def _shown_start(start: datetime | None) -> str:
    if start is None:
        return "no Start date"
    try:
        local = timezone.localtime(start)
    except OverflowError:  # year 1 or 9999 in a zone that moves it out of range
        return _utc(start)
    return f"{local.date().isoformat()} {local:%H:%M} ({timezone.get_current_timezone_name()})"
