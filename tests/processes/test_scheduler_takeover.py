"""A worker killed while its RQ scheduler held the lock: another worker's scheduler takes over
within seconds, so retries, reminders and paced sends do not stall for RQ's 61 s lock."""

from __future__ import annotations

import redis
from rq import Queue
from rq.scheduler import RQScheduler

from gateway.processes.scheduler_takeover import (
    DEAD_AFTER_S,
    RQ_LOCK_TTL_S,
    free_dead_schedulers_locks,
)


def test_a_silent_schedulers_lock_is_freed_for_another_and_a_live_ones_is_not(
    redis_client: redis.Redis,
) -> None:
    queue = Queue("gateway", connection=redis_client)
    holder = RQScheduler([queue], connection=redis_client)
    holder.acquire_locks()
    other = RQScheduler([queue], connection=redis_client)

    assert free_dead_schedulers_locks(redis_client, ["gateway"]) == []  # it beats: alive
    assert other.acquire_locks() == set()

    # No beat for DEAD_AFTER_S and a second (what is left of the lock says so): dead.
    lock_key = RQScheduler.get_locking_key("gateway")
    redis_client.pexpire(lock_key, int((RQ_LOCK_TTL_S - DEAD_AFTER_S - 1) * 1000))
    assert free_dead_schedulers_locks(redis_client, ["gateway"]) == ["gateway"]
    assert other.acquire_locks() == {"gateway"}
    # The dead one, were it to come back, finds its lock taken and lets it be.
    holder.heartbeat()
    assert holder.acquired_locks == set()
