"""The one retry layer: transient errors are retried with exponential backoff and full
jitter, honouring Retry-After; everything else fails at once. A policy may also bound
the whole call in time (a user waiting on a Save) and leave some transient errors alone."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from connectors.openai.client import RateLimitedError, TransientError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 8
    base_seconds: float = 0.5
    cap_seconds: float = 30.0
    max_retry_after: float = 120.0
    # Wall time for all attempts and waits; a wait that would end past it is not begun.
    budget_seconds: float | None = None
    give_up_on: tuple[type[TransientError], ...] = ()  # transient, but not worth a retry here

    def delay(self, attempt: int, error: TransientError) -> float:
        if isinstance(error, RateLimitedError) and error.retry_after is not None:
            return min(error.retry_after, self.max_retry_after)
        return random.uniform(0, min(self.cap_seconds, self.base_seconds * 2**attempt))


def call_with_retries(
    call: Callable[[], T],
    policy: RetryPolicy,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[TransientError, float], None] | None = None,
) -> T:
    started = time.monotonic()
    for attempt in range(policy.attempts):
        try:
            return call()
        except policy.give_up_on:
            raise
        except TransientError as error:
            if attempt == policy.attempts - 1:
                error.message = f"{error.message} Gave up after {policy.attempts} attempts."
                error.args = (error.message,)
                raise
            delay = policy.delay(attempt, error)
            if _past_budget(policy, started, delay):
                error.message = (
                    f"{error.message} Gave up after {attempt + 1} attempt(s): the next wait "
                    f"({delay:.1f} s) would pass the time allowed."
                )
                error.args = (error.message,)
                raise
            if on_retry:
                on_retry(error, delay)
            sleep(delay)
    raise AssertionError("unreachable")


def _past_budget(policy: RetryPolicy, started: float, delay: float) -> bool:
    if policy.budget_seconds is None:
        return False
    return time.monotonic() - started + delay > policy.budget_seconds
