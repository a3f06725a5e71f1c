"""The shared rate limiter: grants an interval apart, and a Redis restart cannot let one through
early (an append-only file read back may lack the last second's grants)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import redis

from gateway.core.rate_limit import RateLimiter
from tests.campaigns.test_campaigns import FakeClock

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
KEY = "sg:test:door"
RATE = 5.0  # one grant every 200 ms


def test_grants_come_an_interval_apart(redis_client: redis.Redis) -> None:
    clock = FakeClock(T0)
    limiter = RateLimiter(redis_client, clock)

    assert limiter.try_acquire(KEY, RATE) == 0.0
    clock.moment += timedelta(milliseconds=50)
    assert limiter.try_acquire(KEY, RATE) == 0.15  # not before 200 ms
    clock.moment = T0 + timedelta(milliseconds=200)
    assert limiter.try_acquire(KEY, RATE) == 0.0


def test_after_a_restart_that_lost_the_last_grant_the_next_waits_an_interval(
    redis_client: redis.Redis,
) -> None:
    clock = FakeClock(T0)
    limiter = RateLimiter(redis_client, clock)
    assert limiter.try_acquire(KEY, RATE) == 0.0
    # The Redis that granted it died; the one restarted from its file has the state from
    # before that grant, written by the earlier process (another run_id).
    before = int((T0 - timedelta(milliseconds=100)).timestamp() * 1_000_000)
    redis_client.set(KEY, f"{before}:{'0' * 40}")

    clock.moment += timedelta(milliseconds=50)
    # Not granted at once, though the state read back says the last grant is long past.
    assert limiter.try_acquire(KEY, RATE) == 0.2
    clock.moment += timedelta(milliseconds=200)
    assert limiter.try_acquire(KEY, RATE) == 0.0
