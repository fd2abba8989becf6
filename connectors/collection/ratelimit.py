"""A per-connector request rate limit shared by all workers (GCRA).

With a Redis broker the state lives in Redis, so every worker process shares it; on the
embedded default it lives in a file per key under var/ratelimit/, taken under a lock, so
the worker's processes and the web server's share it there. A connector at N requests a
minute sends at most N + BURST requests in any 60 s window: BURST may go at once, then
one every 60/N seconds.
"""

from __future__ import annotations

import fcntl
import logging
import math
import os
import time
from collections.abc import Callable
from functools import cache

import redis
from django.conf import settings

log = logging.getLogger(__name__)

BURST = 5  # requests that may go at once; then the rate applies
UNAVAILABLE_PATIENCE_SECONDS = 60.0  # how long a Redis outage is waited out
UNAVAILABLE_RETRY_SECONDS = 1.0

# Returns how many microseconds to wait before asking again; 0 means a slot was taken.
# All in integer microseconds on Redis's own clock: Redis truncates a Lua number to an
# integer on return (a fractional wait under 1 ms would read as 0, "go", with no slot
# taken), and one clock serves workers on hosts whose clocks differ. A request goes
# when the theoretical arrival time (tat) is at most burst - 1 intervals ahead: so a
# window of N intervals, ends included, holds at most N + burst requests.
GCRA = """
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local wait = tat - now - (burst - 1) * interval
if wait > 0 then return wait end
local ttl_ms = math.floor((tat + interval - now) / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%.0f', tat + interval), 'PX', ttl_ms)
return 0
"""


class TransientError(Exception):
    """Worth leaving for later: the run stops and is resumed, nothing is wrong with it."""


class RateLimitUnavailableError(TransientError):
    """The shared rate limit's Redis stayed unreachable for the whole patience."""


@cache
def _client(url: str) -> redis.Redis:
    # A client keeps a pool of connections: one that broke (a Redis restart) is dropped
    # and the next command connects afresh, so the cached client survives restarts.
    return redis.Redis.from_url(
        url, socket_timeout=5, socket_connect_timeout=5, health_check_interval=30
    )


def _redis() -> redis.Redis | None:
    url = settings.CELERY_BROKER_URL
    return _client(url) if url.startswith(("redis://", "rediss://")) else None


@cache
def _script(client: redis.Redis):
    # EVALSHA, loading the script again when a restarted Redis no longer has it.
    return client.register_script(GCRA)


def _wait_local(key: str, interval_us: int) -> int:
    """GCRA's step without Redis: the tat is a fixed-width number in the key's file, read
    and written under an exclusive lock (flock), so every process on this machine shares
    it; the lock goes with the file's close."""
    folder = settings.VAR_DIR / "ratelimit"
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / key, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        now_us = time.time_ns() // 1000
        tat = max(int(os.pread(fd, 20, 0) or now_us), now_us)
        wait = tat - now_us - (BURST - 1) * interval_us
        if wait > 0:
            return wait
        os.pwrite(fd, b"%020d" % (tat + interval_us), 0)
        return 0
    finally:
        os.close(fd)


def _wait_shared(client: redis.Redis, key: str, interval_us: int) -> int:
    return int(_script(client)(keys=[key], args=[interval_us, BURST]))


def acquire(
    connector_id: int,
    per_minute: int,
    sleep: Callable[[float], None] = time.sleep,
    patience: float = UNAVAILABLE_PATIENCE_SECONDS,
) -> None:
    """Block until the connector may send one more request.

    A Redis outage is waited out for `patience` seconds, then RateLimitUnavailableError.
    """
    if per_minute <= 0:
        return
    key = f"datahub:rate:connector:{connector_id}"
    interval_us = math.ceil(60_000_000 / per_minute)  # rounded up: never above the rate
    client = _redis()
    outage = _Outage(patience, sleep)
    while True:
        if client is None:
            wait = _wait_local(key, interval_us)
        else:
            try:
                wait = _wait_shared(client, key, interval_us)
            except (redis.ConnectionError, redis.TimeoutError) as error:
                outage.wait_out(error)  # BusyLoadingError is a ConnectionError
                continue
        if wait <= 0:
            return
        sleep(wait / 1_000_000)


class _Outage:
    """Waits out an unreachable Redis, logging once, until the patience runs out."""

    def __init__(self, patience: float, sleep: Callable[[float], None]) -> None:
        self.patience, self.sleep, self.since = patience, sleep, None

    def wait_out(self, error: Exception) -> None:
        now = time.monotonic()
        if self.since is None:
            self.since = now
            log.warning("The rate limit's Redis is unreachable (%s); waiting for it.", error)
        if now - self.since >= self.patience:
            raise RateLimitUnavailableError(
                f"The rate limit's Redis was unreachable for {self.patience:g} s ({error}). "
                "The run is left to be resumed once Redis is back."
            ) from error
        self.sleep(UNAVAILABLE_RETRY_SECONDS)
