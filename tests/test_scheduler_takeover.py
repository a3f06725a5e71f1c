"""A worker killed while its RQ scheduler held the lock: another worker's scheduler takes over
within seconds, so retries, reminders and paced sends do not stall for RQ's 61 s lock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import redis
from rq import Queue
from rq.scheduler import RQScheduler

from gateway.scheduler_takeover import DEAD_AFTER_S, free_dead_schedulers_locks


def test_a_silent_schedulers_lock_is_freed_for_another_and_a_live_ones_is_not(
    redis_client: redis.Redis,
) -> None:
    queue = Queue("gateway", connection=redis_client)
    holder = RQScheduler([queue], connection=redis_client)
    holder.acquire_locks()
    holder.register_birth()
    holder.heartbeat()
    other = RQScheduler([queue], connection=redis_client)

    assert free_dead_schedulers_locks(redis_client, ["gateway"]) == []  # it beats: alive
    assert other.acquire_locks() == set()

    later = datetime.now(UTC) + timedelta(seconds=DEAD_AFTER_S + 1)  # no beat since: dead
    assert free_dead_schedulers_locks(redis_client, ["gateway"], now=later) == ["gateway"]
    assert other.acquire_locks() == {"gateway"}
    # The dead one, were it to come back, finds its lock taken and lets it be.
    holder.heartbeat()
    assert holder.acquired_locks == set()
