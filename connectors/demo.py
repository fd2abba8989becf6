"""`make demo`: a connector on the local emulator with two tasks, queued to run at once."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from connectors import runs
from connectors.models import Connector, RunTrigger, Task
from connectors.openai.emulator import DEMO_ADMIN_KEY
from connectors.openai.plan import format_time

DEMO_NAME = "Demo organization (emulator)"


def demo_setup(base_url: str) -> Connector:
    """Create the demo connector and tasks once; queue a run of each on every start."""
    connector = Connector.objects.filter(name=DEMO_NAME).first()
    if connector is None:
        connector = Connector(
            kind="openai",
            name=DEMO_NAME,
            description="The local OpenAI Admin API emulator: made-up but realistic data.",
            base_url=base_url,
        )
        connector.set_admin_key(DEMO_ADMIN_KEY)
        connector.save()
        _demo_tasks(connector)
    for task in connector.tasks.all():
        runs.run_enqueue(task, RunTrigger.MANUAL)
    return connector


def _demo_tasks(connector: Connector) -> None:
    start = format_time(
        (timezone.now() - timedelta(days=30)).replace(hour=0, minute=0, second=0, microsecond=0)
    )
    schedule = {
        "schedule_enabled": True,
        "schedule_start": timezone.now() + timedelta(hours=1),
        "interval_unit": "hours",
        "interval_every": 1,
    }
    Task.objects.create(
        connector=connector,
        name="Completions by project and model, last 30 days",
        query_type="completions",
        parameters={
            "type": "completions",
            "completions-StartTime": start,
            "completions-EndTime": None,
            "completions-BucketWidth": "1d",
            "completions-GroupBy": ["project_id", "model"],
        },
        **schedule,
    )
    Task.objects.create(
        connector=connector,
        name="Costs by project and line item, last 30 days",
        query_type="costs",
        parameters={
            "type": "costs",
            "costs-StartTime": start,
            "costs-EndTime": None,
            "costs-BucketWidth": "1d",
            "costs-GroupBy": ["project_id", "line_item"],
        },
        **schedule,
    )
