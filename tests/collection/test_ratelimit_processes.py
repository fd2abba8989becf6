"""The rate limit holds across worker processes: two processes, each with a thread per
connector, take grants from the shared limiter (in Redis, or in files on the embedded
default) as fast as it allows, and no stretch of time carries more than its share of the
rate plus the burst."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time

import pytest
import redis

from connectors.collection import ratelimit

CONNECTORS = (9101, 9102, 9103)
PER_MINUTE = 600  # 10 a second: a few seconds of grants stand in for minutes at 60/min
GRANTS_PER_PROCESS = 30  # per connector


def _worker(broker_url: str, start_at: float, results) -> None:
    """One worker process: a thread per connector, each recording when it got each grant."""
    os.environ["CELERY_BROKER_URL"] = broker_url
    import django

    django.setup()
    from connectors.collection import ratelimit as limiter

    grants: dict[int, list[float]] = {c: [] for c in CONNECTORS}

    def hammer(connector_id: int) -> None:
        for _ in range(GRANTS_PER_PROCESS):
            limiter.acquire(connector_id, PER_MINUTE)
            grants[connector_id].append(time.time())

    time.sleep(max(0.0, start_at - time.time()))
    threads = [threading.Thread(target=hammer, args=(c,)) for c in CONNECTORS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put(grants)


def most_in_any_window(times: list[float], window: float) -> int:
    """The most grants in any window [t, t + window] of the given length, ends included."""
    times = sorted(times)
    most, end = 0, 0
    for start, t in enumerate(times):
        while end < len(times) and times[end] <= t + window:
            end += 1
        most = max(most, end - start)
    return most


@pytest.fixture(params=["redis", "files"])
def broker_url(request, settings):
    """The broker the processes use: Redis (the limit in Redis) or the embedded default's
    filesystem broker (the limit in files under var/)."""
    keys = [f"datahub:rate:connector:{c}" for c in CONNECTORS]
    if request.param == "files":
        for key in keys:
            (settings.VAR_DIR / "ratelimit" / key).unlink(missing_ok=True)
        return "filesystem://"
    if not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.skip("needs the Redis broker")
    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(*keys)
    return settings.CELERY_BROKER_URL


def test_it_never_lets_two_worker_processes_exceed_the_rate_plus_the_burst(broker_url):
    spawn = multiprocessing.get_context("spawn")  # separate interpreters, like workers
    results = spawn.Queue()
    start_at = time.time() + 2.0  # both start together, after their imports
    processes = [
        spawn.Process(target=_worker, args=(broker_url, start_at, results)) for _ in range(2)
    ]
    for process in processes:
        process.start()
    grants = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0

    interval = 60 / PER_MINUTE
    for connector_id in CONNECTORS:
        times = grants[0][connector_id] + grants[1][connector_id]
        assert len(times) == 2 * GRANTS_PER_PROCESS
        # Every window of k intervals (k = 1 up to the whole run) holds at most k + BURST:
        # at 60/min that is at most 65 requests in any 60 s window.
        for k in range(1, 2 * GRANTS_PER_PROCESS + 1):
            most = most_in_any_window(times, k * interval)
            assert most <= k + ratelimit.BURST, (connector_id, k, most)
