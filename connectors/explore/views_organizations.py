"""All organizations: every connector's spend, top projects and models, and freshness."""

from __future__ import annotations

import re
from datetime import date

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from connectors.explore import organizations
from connectors.explore.params import FIRST_DAY, LAST_DAY, echo

MONTH = re.compile(r"\d{4}-\d{2}", re.ASCII)


def overview_all(request: HttpRequest) -> HttpResponse:
    """Every logged-in user may see it, as they see each connector's overview."""
    today = timezone.now().date()
    month, problems = month_param(request.GET.get("month", ""), today)
    context = {"problems": problems, **organizations.organizations(month, today)}
    return render(request, "connectors/overview_all.html", context)


def month_param(text: str, today: date) -> tuple[date, list[str]]:
    """The month shown (`YYYY-MM`, UTC); this month when empty, invalid or to come.
    Months lie from the Unix epoch OpenAI's times count from to the last year whose
    month after still has a date (see `params`)."""
    text = text.strip()[:20]
    this_month = today.replace(day=1)
    if not text:
        return this_month, []
    try:
        month = date.fromisoformat(f"{text}-01") if MONTH.fullmatch(text) else None
    except ValueError:
        month = None
    if month is None:
        return this_month, [f"“{echo(text)}” is not a month (YYYY-MM); showing this month."]
    if not FIRST_DAY <= month <= LAST_DAY:
        return this_month, [f"“{text}” is out of range; showing this month."]
    if month > this_month:
        return this_month, [f"{text[:7]} has not begun yet; showing this month."]
    return month, []
