"""The Data API's request rate limit, per key: the collectors' GCRA limit
(`collection.ratelimit`, shared through Redis by every web process), asked without
waiting. A request over the limit is answered 429 with the seconds to wait."""

from __future__ import annotations

import logging
import math

import redis
from django.conf import settings

from connectors.collection import ratelimit

log = logging.getLogger(__name__)


def per_minute() -> int:
    return int(getattr(settings, "DATA_API_REQUESTS_PER_MINUTE", 600))


def wait_seconds(prefix: str) -> float:
    """0 when the key may make one more request now (the request is counted), else
    how many seconds until it may. Without Redis, or Redis unreachable: counted in files
    under var/ratelimit/, shared by this machine's processes."""
    rate = per_minute()
    if rate <= 0:
        return 0.0
    key = f"datahub:rate:dataapi:{prefix}"
    interval_us = math.ceil(60_000_000 / rate)
    client = ratelimit._redis()
    wait = None
    if client is not None:
        try:
            wait = ratelimit._wait_shared(client, key, interval_us)
        except (redis.ConnectionError, redis.TimeoutError) as error:
            log.warning("The Data API's rate limit cannot reach Redis (%s); counting here.", error)
    if wait is None:
        wait = ratelimit._wait_local(key, interval_us)
    return max(wait, 0) / 1_000_000
