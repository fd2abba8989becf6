"""Celery tasks: thin interfaces that take ids, load rows and call one service.

Messages carry ids only, never key material.
"""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from connectors.collection import engine, queue
from connectors.models import Connector
from connectors.setup import services


@shared_task(
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
    # The database away for a moment when the run is claimed: try again shortly.
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=2,
    retry_backoff_max=60,
    max_retries=30,
)
def task_run(run_id: int) -> None:
    engine.run_execute(run_id)


@shared_task(ignore_result=True)
def schedule_tick() -> None:
    queue.reclaim_stale()
    queue.resend_queued()
    queue.schedule_tick()


@shared_task(ignore_result=True)
def connector_recheck(connector_id: int) -> None:
    connector = Connector.objects.filter(pk=connector_id).first()
    if connector is not None:  # deleted since it was queued
        services.connector_test(connector)


@shared_task(ignore_result=True)
def connectors_recheck_all() -> None:
    """Re-test every saved key, so a revoked key shows on the Connectors page early."""
    for connector_id in Connector.objects.values_list("pk", flat=True):
        connector_recheck.delay(connector_id)
