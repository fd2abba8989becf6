from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from connectors.collection import engine
from connectors.models import USAGE_TABLES, Connector, Task, TaskRun
from connectors.openai.emulator import DEMO_ADMIN_KEY
from connectors.openai.plan import stream_queries
from connectors.openai.streams import STREAMS


@pytest.fixture(autouse=True)
def fast_retries(settings):
    """Back off in milliseconds: the tests count retries, they need not wait for them."""
    settings.OPENAI_RETRY_BASE_SECONDS = 0.01
    settings.OPENAI_RETRY_ATTEMPTS = 12


@pytest.fixture
def live_connector(db, emulator_server) -> Connector:
    """A connector on the emulator over HTTP, with no request rate limit."""
    connector = Connector(
        kind="openai", name="Emulated org", base_url=emulator_server.base_url, requests_per_minute=0
    )
    connector.set_admin_key(DEMO_ADMIN_KEY)
    connector.save()
    return connector


@pytest.fixture
def make_task(live_connector):
    def make(query_type: str, **parameters) -> Task:
        params = {"type": query_type} | {f"{query_type}-{k}": v for k, v in parameters.items()}
        return Task.objects.create(
            connector=live_connector, query_type=query_type, parameters=params
        )

    return make


def run_now(task: Task) -> TaskRun:
    """Execute one run in this process, as a worker would."""
    run = TaskRun.objects.create(task=task, trigger="manual")
    engine.run_execute(run.pk)
    run.refresh_from_db()
    return run


def epoch(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp())


def _plain(value):
    return Decimal(repr(value)) if isinstance(value, float) else value


def truth_rows(emulator, task: Task, stream_type: str) -> dict:
    """The emulator's ground truth for one stream of a task, keyed like the table."""
    query = next(
        q for q in stream_queries(task.query_type, task.parameters) if q.stream.type == stream_type
    )
    stream = query.stream
    buckets = emulator.ground_truth(
        stream_type,
        start=int(query.start.timestamp()),
        end=int(query.end.timestamp()) if query.end else None,
        bucket_width=query.width,
        group_by=query.group_by,
        filters=query.filters,
    )
    rows = {}
    for bucket in buckets:
        for result in bucket["results"]:
            dims = tuple(result.get(d.api) for d in stream.dimensions)
            values = {}
            for field in stream.metrics:
                value = result
                for part in field.api.split("."):
                    value = (value or {}).get(part)
                values[field.column] = _plain(value)
            rows[(bucket["start_time"], dims)] = values
    return rows


def table_rows(task: Task, stream_type: str) -> dict:
    stream = STREAMS[stream_type]
    rows = {}
    for row in USAGE_TABLES[stream_type].objects.filter(task=task).values():
        dims = tuple(row[d.column] for d in stream.dimensions)
        key = (int(row["start_time"].timestamp()), dims)
        assert key not in rows, f"duplicate row {key}"
        rows[key] = {f.column: _normal(row[f.column]) for f in stream.metrics}
    return rows


def _normal(value):
    return value.normalize() if isinstance(value, Decimal) else value
