"""Taking over RQ's scheduler from a worker that died holding it.

One worker's scheduler moves due jobs (retries after their backoff, reminders, paced sends,
a campaign's next batch) into the queue; the others wait for its lock. RQ lets that lock live
61 s past the holder's last heartbeat and looks for it again only at a worker's maintenance,
so a worker killed while holding it (SIGKILL, the OOM killer, a power cut) stopped every
scheduled job for a minute or two. A live scheduler heartbeats every second: one silent for
``DEAD_AFTER_S`` is gone, and its lock is freed for the next maintenance to take.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import redis
from rq.scheduler import SCHEDULER_KEY_TEMPLATE, RQScheduler

log = logging.getLogger(__name__)

# Far longer than a live scheduler's pause between heartbeats (its interval, 1 s, plus moving
# a batch of due jobs), far shorter than RQ's 61 s lock.
DEAD_AFTER_S = 10.0

# Deletes KEYS[1] if it still holds ARGV[1]: only the dead holder's lock is freed.
_FREE_IF_HELD_BY = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


def free_dead_schedulers_locks(
    client: redis.Redis, queue_names: list[str], now: datetime | None = None
) -> list[str]:
    """Free the scheduler locks of these queues held by a scheduler that stopped beating.

    Returns the names of the queues freed; the caller's scheduler can then acquire them.
    """
    now = now or datetime.now(UTC)
    freed: list[str] = []
    for queue_name in queue_names:
        lock_key = RQScheduler.get_locking_key(queue_name)
        holder = client.get(lock_key)
        if holder is None:
            continue
        name = holder.decode() if isinstance(holder, bytes) else str(holder)
        beat = client.hget(SCHEDULER_KEY_TEMPLATE % name, "last_heartbeat")
        if beat is not None and (now - _parse(beat)).total_seconds() < DEAD_AFTER_S:
            continue  # alive
        if client.eval(_FREE_IF_HELD_BY, 1, lock_key, holder):
            log.warning(
                "RQ's scheduler %s stopped beating: its lock on %s is freed for another",
                name,
                queue_name,
            )
            freed.append(queue_name)
    return freed


def _parse(raw: bytes | str) -> datetime:
    """RQ's heartbeat time (``utcformat``: ISO 8601, UTC, ``Z``)."""
    text = raw.decode() if isinstance(raw, bytes) else raw
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
