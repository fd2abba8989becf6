"""When a task's schedule runs next: pure functions of the task's schedule fields."""

from __future__ import annotations

from datetime import datetime, timedelta

from croniter import croniter
from dateutil.relativedelta import relativedelta
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

FIXED_STEPS = {"minutes": timedelta(minutes=1), "hours": timedelta(hours=1)}
DAY_STEPS = {"daily": timedelta(days=1), "weekly": timedelta(weeks=1)}


def cron_is_valid(expression: str) -> bool:
    return len(expression.split()) == 5 and croniter.is_valid(expression)


def next_run(task, after: datetime) -> datetime | None:
    """The first scheduled time strictly after `after`, or None when not scheduled."""
    if not task.schedule_enabled or task.schedule_start is None:
        return None
    start = task.schedule_start
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


def _next_monthly(start: datetime, every: int, after: datetime) -> datetime:
    # relativedelta from `start` keeps the day of month (clamped to short months).
    months = (after.year - start.year) * 12 + after.month - start.month
    n = max(0, months // every - 1)
    while (candidate := start + relativedelta(months=n * every)) <= after:
        n += 1
    return candidate


def upcoming(task, after: datetime, count: int = 5) -> list[datetime]:
    """The next `count` scheduled times after `after`."""
    times: list[datetime] = []
    moment = after
    while len(times) < count and (moment := next_run(task, moment)) is not None:
        times.append(moment)
    return times


def describe(task) -> SafeString:
    """The schedule in words, for the task page: the start in the active time zone (the
    user's, as the form reads it), a CRON expression as code."""
    if not task.schedule_enabled:
        return format_html("{}", "Not scheduled: runs only when started by hand.")
    local = timezone.localtime(task.schedule_start)
    start = f"{local:%Y-%m-%d %H:%M} ({timezone.get_current_timezone_name()})"
    if task.interval_unit == "cron":
        return format_html("CRON <code>{}</code> (UTC), from {}", task.cron, start)
    unit = {"daily": "day", "weekly": "week", "monthly": "month"}.get(
        task.interval_unit, task.interval_unit.rstrip("s")
    )
    every = "Every" if task.interval_every == 1 else f"Every {task.interval_every}"
    plural = "s" if task.interval_every > 1 else ""
    return format_html("{} {}{}, from {}", every, unit, plural, start)
