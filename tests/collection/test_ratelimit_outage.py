"""A Redis blip does not fail a run: the rate limit waits for Redis to come back, and only
a long outage ends in a clear error the engine leaves for resuming."""

from __future__ import annotations

import logging
import threading

import pytest
import redis

from connectors.collection import ratelimit
from tests.redis_server import redis_server  # noqa: F401 (a fixture)


@pytest.fixture
def limiter_on(redis_server, settings):  # noqa: F811
    settings.CELERY_BROKER_URL = redis_server.url
    return redis_server


def test_it_waits_out_a_redis_restart_and_takes_a_slot_afterwards(limiter_on, caplog):
    ratelimit.acquire(9301, per_minute=60)  # the cached client is connected
    limiter_on.stop()
    restart = threading.Timer(3.0, limiter_on.start)
    restart.start()
    try:
        with caplog.at_level(logging.WARNING, logger=ratelimit.__name__):
            ratelimit.acquire(9301, per_minute=60)
    finally:
        restart.join()  # so the fixture stops the restarted server, whatever happened
    assert redis.Redis.from_url(limiter_on.url).exists("datahub:rate:connector:9301")
    warnings = [r for r in caplog.records if r.name == ratelimit.__name__]
    assert len(warnings) == 1
    assert "unreachable" in warnings[0].getMessage()


def test_it_gives_up_with_a_transient_error_when_redis_stays_down(limiter_on):
    limiter_on.stop()
    with pytest.raises(ratelimit.RateLimitUnavailableError) as raised:
        ratelimit.acquire(9302, per_minute=60, patience=2.0)
    assert isinstance(raised.value, ratelimit.TransientError)
    assert "unreachable for 2 s" in str(raised.value)
