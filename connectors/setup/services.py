"""Writes: every change to connectors and tasks goes through a function here."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from connectors import coverage
from connectors.models import Connector, Task
from connectors.openai.client import (
    AdminClient,
    OpenAIError,
    RateLimitedError,
    UnreachableError,
    key_type_error,
)
from connectors.openai.retry import RetryPolicy, call_with_retries
from connectors.setup import crypto

KEY_CHECK_TIMEOUT_SECONDS = 15.0
# A user waits on Save: 429s, 5xxs and dropped connections are retried for this long in
# all. Cannot connect / no answer in time is reported at once: a wrong base URL is the
# usual cause, and the timeout alone is longer than the budget.
KEY_CHECK_BUDGET_SECONDS = 6.0
KEY_CHECK_RETRIES = RetryPolicy(
    attempts=10, base_seconds=0.25, cap_seconds=2.0, give_up_on=(UnreachableError,)
)
KEY_NEEDED_FOR_NEW_BASE_URL = (
    "The API BASE URL changed: enter the ADMIN KEY again, to be checked at the new "
    "address. The saved key is only ever sent to the address it was checked at."
)


class _KeyCheckClient(AdminClient):
    """Retries each read of the check on its own (a 429 on the second read does not
    repeat the first), all within one budget."""

    @sensitive_variables()
    def __init__(self, admin_key: str, base_url: str, sleep: Callable[[float], None]) -> None:
        super().__init__(admin_key, base_url, timeout=KEY_CHECK_TIMEOUT_SECONDS)
        self.sleep = sleep
        self.deadline = time.monotonic() + KEY_CHECK_BUDGET_SECONDS

    def get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        left = max(0.0, self.deadline - time.monotonic())
        policy = replace(KEY_CHECK_RETRIES, budget_seconds=left)
        return call_with_retries(partial(AdminClient.get, self, path, params), policy, self.sleep)


@sensitive_variables()  # here and below: every function that holds the plain key
def key_check(admin_key: str, base_url: str, sleep: Callable[[float], None] = time.sleep) -> str:
    """Check a key against the Admin API. Returns "" when it works, else what is wrong."""
    wrong_type = key_type_error(admin_key)
    if wrong_type:
        return wrong_type.message
    try:
        with _KeyCheckClient(admin_key, base_url, sleep) as client:
            client.check_key()
    except RateLimitedError:
        return (
            "OpenAI kept rate limiting this organization (429), so the key could not be "
            "checked. Try again in a minute."
        )
    except OpenAIError as error:
        return error.message
    return ""


@sensitive_variables()
def stored_key_check(connector: Connector) -> str:
    """Check the saved key at the saved base URL: the only address it is ever sent to."""
    try:
        admin_key = connector.admin_key
    except crypto.SecretError as error:
        return str(error)
    return key_check(admin_key, connector.base_url)


def same_address(base_url: str, other: str) -> bool:
    return base_url.rstrip("/") == other.rstrip("/")


@sensitive_variables()
def connector_create(
    *,
    kind: str,
    name: str,
    description: str,
    base_url: str,
    admin_key: str,
    requests_per_minute: int = 120,
) -> tuple[Connector | None, str]:
    """Check the key, then save. Nothing is saved when the check fails."""
    error = key_check(admin_key, base_url)
    if error:
        return None, error
    connector = Connector(
        kind=kind,
        name=name,
        description=description,
        base_url=base_url,
        requests_per_minute=requests_per_minute,
    )
    connector.set_admin_key(admin_key)
    connector.key_checked_at = connector.key_verified_at = timezone.now()
    connector.save()
    return connector, ""


@sensitive_variables()
def connector_update(
    connector: Connector,
    *,
    name: str,
    description: str,
    base_url: str,
    admin_key: str = "",
    requests_per_minute: int = 120,
) -> str:
    """Save changes. A new key is checked first; on failure nothing changes.

    The saved key only ever goes to the address it was checked at: a new base URL needs
    the key typed again, and that key is checked at the new address. The saved key is
    never sent there (the new host may be anyone's).
    """
    if not admin_key and not same_address(base_url, connector.base_url):
        return KEY_NEEDED_FOR_NEW_BASE_URL
    if admin_key:
        error = key_check(admin_key, base_url)
        if error:
            return error
        connector.set_admin_key(admin_key)
        connector.key_checked_at = connector.key_verified_at = timezone.now()
        connector.key_error = ""
    connector.name, connector.description, connector.base_url = name, description, base_url
    connector.requests_per_minute = requests_per_minute
    connector.save()
    return ""


def connector_test(connector: Connector) -> str:
    """Re-check a saved connector's key and record the outcome on the row."""
    error = stored_key_check(connector)
    connector.key_checked_at = timezone.now()
    connector.key_error = error
    if not error:
        connector.key_verified_at = connector.key_checked_at
    connector.save(update_fields=["key_checked_at", "key_verified_at", "key_error", "updated_at"])
    return error


def connector_delete(connector: Connector) -> None:
    connector.delete()


def connector_rotate_keys() -> int:
    """Re-encrypt every stored key with the newest encryption key."""
    count = 0
    with transaction.atomic():
        for connector in Connector.objects.select_for_update():
            connector.admin_key_encrypted = crypto.rotate(connector.admin_key_encrypted)
            connector.save(update_fields=["admin_key_encrypted"])
            count += 1
    return count


def task_save(
    task: Task, *, name: str, query_type: str, parameters: dict[str, Any], schedule: dict
) -> list[str]:
    """Create or update a task from validated form data. Streams whose GROUP BY or
    filters changed start again: their earlier rows were of another grain. Returns
    those streams."""
    before = coverage.usage_grains(task)
    task.name, task.query_type, task.parameters = name, query_type, parameters
    for field, value in schedule.items():
        setattr(task, field, value)
    with transaction.atomic():
        task.save()
        return coverage.task_grain_changed(task, before)


def task_delete(task: Task) -> None:
    task.delete()
