"""All organizations: every connector's spend, top projects and models, and freshness."""

from __future__ import annotations

from datetime import date

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from connectors.explore import organizations

# Months the page can show: from the Unix epoch OpenAI's times count from, and never
# so late that the month after it has no date.
FIRST_YEAR, LAST_YEAR = 1970, 9998


def overview_all(request: HttpRequest) -> HttpResponse:
    """Every logged-in user may see it, as they see each connector's overview."""
    today = timezone.now().date()
    month, problems = month_param(request.GET.get("month", ""), today)
    context = {"problems": problems, **organizations.organizations(month, today)}
    return render(request, "connectors/overview_all.html", context)


def month_param(text: str, today: date) -> tuple[date, list[str]]:
    """The month shown (`YYYY-MM`, UTC); this month when empty, invalid or to come."""
    text = text.strip()[:20]
    this_month = today.replace(day=1)
    if not text:
        return this_month, []
    try:
        month = date.fromisoformat(f"{text[:7]}-01")
    except ValueError:
        return this_month, [f"“{text}” is not a month (YYYY-MM); showing this month."]
    if not FIRST_YEAR <= month.year <= LAST_YEAR:
        return this_month, [f"“{text}” is out of range; showing this month."]
    if month > this_month:
        return this_month, [f"{text[:7]} has not begun yet; showing this month."]
    return month, []
