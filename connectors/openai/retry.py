"""The one retry layer: transient errors are retried with exponential backoff and full
jitter, honouring Retry-After; everything else fails at once."""

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
    for attempt in range(policy.attempts):
        try:
            return call()
        except TransientError as error:
            if attempt == policy.attempts - 1:
                error.message = f"{error.message} Gave up after {policy.attempts} attempts."
                error.args = (error.message,)
                raise
            delay = policy.delay(attempt, error)
            if on_retry:
                on_retry(error, delay)
            sleep(delay)
    raise AssertionError("unreachable")
