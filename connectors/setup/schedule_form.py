"""A task's schedule: start, interval or CRON, and what happens when a run is still going."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone

from connectors.collection.schedule import cron_problem
from connectors.models import IntervalUnit, Task


class ScheduleForm(forms.ModelForm):
    class Meta:
        model = Task
        fields = [
            "schedule_enabled",
            "schedule_start",
            "interval_unit",
            "interval_every",
            "cron",
            "queue_behaviour",
        ]
        labels = {
            "schedule_enabled": "Enable automatic task execution",
            "schedule_start": "Start date",
            "interval_unit": "Interval",
            "interval_every": "Every",
            "cron": "CRON expression",
            "queue_behaviour": "When the previous run is still going",
        }
        help_texts = {
            "schedule_start": "The first run; later runs follow the interval.",
            "interval_every": "How many minutes, hours, days, weeks or months between runs.",
            "cron": "Five fields, UTC: minute hour day-of-month month day-of-week.",
        }
        widgets = {
            "schedule_start": forms.DateTimeInput(
                attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"
            ),
            "queue_behaviour": forms.RadioSelect,
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["interval_every"].min_value = 1
        # Django reads and shows a date-time in the active zone (the user's preference):
        # the label says which, so 07:00 means 07:00 where the user says it.
        zone = timezone.get_current_timezone_name()
        self.fields["schedule_start"].label = f"Start date ({zone})"
        self.fields["interval_every"].widget.attrs.update({"min": 1, "max": 10000})

    def clean(self) -> dict[str, Any]:
        """Every value is checked whether or not the schedule is enabled: a disabled
        schedule is enabled later with one tick, and then it must compute."""
        cleaned = super().clean()
        every = cleaned.get("interval_every")
        if every is not None and not 1 <= every <= 10000:
            self.add_error("interval_every", "Every must be between 1 and 10000.")
        cron = cleaned["cron"] = (cleaned.get("cron") or "").strip()
        enabled = cleaned.get("schedule_enabled")
        checked = cleaned.get("interval_unit") == IntervalUnit.CRON and (cron or enabled)
        if checked and (problem := cron_problem(cron)):
            self.add_error("cron", problem)
        if enabled and not cleaned.get("schedule_start") and "schedule_start" not in self.errors:
            self.add_error("schedule_start", "A scheduled task needs a Start date.")
        return cleaned
