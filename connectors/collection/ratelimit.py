"""A per-connector request rate limit shared by all workers (GCRA).

With a Redis broker the state lives in Redis, so every worker process shares it; on the
embedded default it is kept per process.
"""

from __future__ import annotations

import threading
import time
from functools import cache

import redis
from django.conf import settings

# Returns how long to wait (ms) before the request may go; 0 means go now.
GCRA = """
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local wait = tat - now - burst * interval
if wait > 0 then return wait end
redis.call('SET', KEYS[1], tat + interval, 'PX', math.ceil(tat + interval - now) + 1000)
return 0
"""

BURST = 5  # requests that may go at once before the rate applies


@cache
def _redis() -> redis.Redis | None:
    url = settings.CELERY_BROKER_URL
    return redis.Redis.from_url(url) if url.startswith(("redis://", "rediss://")) else None


_local_lock = threading.Lock()
_local_tat: dict[str, float] = {}


def _wait_local(key: str, interval_ms: float, now_ms: float) -> float:
    with _local_lock:
        tat = max(_local_tat.get(key, now_ms), now_ms)
        wait = tat - now_ms - BURST * interval_ms
        if wait <= 0:
            _local_tat[key] = tat + interval_ms
        return max(wait, 0)


def acquire(connector_id: int, per_minute: int, sleep=time.sleep) -> None:
    """Block until the connector may send one more request."""
    if per_minute <= 0:
        return
    key = f"datahub:rate:connector:{connector_id}"
    interval_ms = 60_000 / per_minute
    client = _redis()
    while True:
        now_ms = time.time() * 1000
        if client is not None:
            wait = float(client.eval(GCRA, 1, key, now_ms, interval_ms, BURST))
        else:
            wait = _wait_local(key, interval_ms, now_ms)
        if wait <= 0:
            return
        sleep(wait / 1000)
