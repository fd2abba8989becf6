"""The per-connector request rate limit: a burst goes at once, then requests wait."""

from __future__ import annotations

import pytest
import redis

from connectors.collection import ratelimit


class MustWait(Exception):
    pass


def refuse_to_wait(seconds: float) -> None:
    assert seconds > 0
    raise MustWait


@pytest.fixture(params=["redis", "files"])
def limiter_backend(request, settings):
    """Shared through Redis with a Redis broker; through files in var/ on the embedded
    default."""
    keys = [f"datahub:rate:connector:{i}" for i in (9001, 9002)]
    if request.param == "redis":
        if not settings.CELERY_BROKER_URL.startswith("redis"):
            pytest.skip("needs the Redis broker")
        redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(*keys)
    else:
        settings.CELERY_BROKER_URL = "filesystem://"
        for key in keys:
            (settings.VAR_DIR / "ratelimit" / key).unlink(missing_ok=True)
    return request.param


def test_it_lets_a_burst_through_then_makes_requests_wait(limiter_backend):
    for _ in range(ratelimit.BURST):
        ratelimit.acquire(9001, per_minute=60, sleep=refuse_to_wait)
    with pytest.raises(MustWait):
        ratelimit.acquire(9001, per_minute=60, sleep=refuse_to_wait)
    ratelimit.acquire(9002, per_minute=60, sleep=refuse_to_wait)  # each connector its own


def test_it_does_not_limit_a_connector_set_to_zero(limiter_backend):
    for _ in range(100):
        ratelimit.acquire(9001, per_minute=0, sleep=refuse_to_wait)
