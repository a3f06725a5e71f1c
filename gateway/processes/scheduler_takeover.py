"""Taking over RQ's scheduler from a worker that died holding it.

One worker's scheduler moves due jobs (retries after their backoff, reminders, paced sends,
a campaign's next batch) into the queue; the others wait for its lock. RQ lets that lock live
61 s past the holder's last heartbeat and looks for it again only at a worker's maintenance,
so a worker killed while holding it (SIGKILL, the OOM killer, a power cut) stopped every
scheduled job for a minute or two. A live scheduler heartbeats every second: one silent for
``DEAD_AFTER_S`` is gone, and its lock is freed for the next maintenance to take.

Silence is read off the lock itself: each heartbeat renews it to RQ's full 61 s, so what is
left of that tells how long ago the holder last beat (a lock just taken, by a scheduler not yet
started, is as fresh as one just renewed).
"""

from __future__ import annotations

import logging

import redis
from rq.scheduler import RQScheduler

from gateway.core.redis_scripts import delete_if_holds

log = logging.getLogger(__name__)

# Far longer than a live scheduler's pause between heartbeats (its interval, 1 s, plus moving
# a batch of due jobs), far shorter than RQ's 61 s lock.
DEAD_AFTER_S = 10.0
# RQ's scheduler lock lives its interval (1 s, the default the worker uses) plus 60 s.
RQ_LOCK_TTL_S = 61.0


def free_dead_schedulers_locks(client: redis.Redis, queue_names: list[str]) -> list[str]:
    """Free the scheduler locks of these queues held by a scheduler that stopped beating.

    Returns the names of the queues freed; the caller's scheduler can then acquire them.
    """
    freed: list[str] = []
    for queue_name in queue_names:
        lock_key = RQScheduler.get_locking_key(queue_name)
        pipe = client.pipeline()
        pipe.get(lock_key)
        pipe.pttl(lock_key)
        holder, left_ms = pipe.execute()
        if holder is None or left_ms < 0:
            continue
        silent_for = RQ_LOCK_TTL_S - left_ms / 1000
        if silent_for < DEAD_AFTER_S:
            continue  # alive
        if delete_if_holds(client, lock_key, holder):  # only the dead holder's lock
            name = holder.decode() if isinstance(holder, bytes) else str(holder)
            log.warning(
                "RQ's scheduler %s has not beaten for %.0f s: its lock on %s is freed for another",
                name,
                silent_for,
                queue_name,
            )
            freed.append(queue_name)
    return freed
