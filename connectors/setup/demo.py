"""`make demo`: a connector on the local emulator with two tasks, queued to run at once."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from django.utils import timezone

from connectors.collection import queue
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
        queue.run_enqueue(task, RunTrigger.MANUAL)
    return connector


DEMO_TASKS = (
    ("Completions by project and model, since last month", "completions", ["project_id", "model"]),
    ("Costs by project and line item, since last month", "costs", ["project_id", "line_item"]),
)


def demo_start(today: date) -> datetime:
    """The first day of last month (UTC): the Overview can then compare this month with
    last over days both have collected, from the first demo run on."""
    previous = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    return datetime.combine(previous, time(), UTC)


def _demo_tasks(connector: Connector) -> None:
    start = format_time(demo_start(timezone.now().astimezone(UTC).date()))
    for name, query_type, group_by in DEMO_TASKS:
        Task.objects.create(
            connector=connector,
            name=name,
            query_type=query_type,
            parameters={
                "type": query_type,
                f"{query_type}-StartTime": start,
                f"{query_type}-EndTime": None,
                f"{query_type}-BucketWidth": "1d",
                f"{query_type}-GroupBy": group_by,
            },
            schedule_enabled=True,
            schedule_start=timezone.now() + timedelta(hours=1),
            interval_unit="hours",
            interval_every=1,
        )
