"""Sending the reminders that are due: one pending reminder per run, in one sorted set.

An SMS question plans its reminder in live state (``gateway.surveys.pending_work``), replacing
the run's previous one, so a household waiting on a question costs one entry however many
questions it answered. Workers look for due reminders at every maintenance (every 15 s) and
queue this job when some are.
"""

from __future__ import annotations

import logging

from gateway.core.runtime import Runtime
from gateway.surveys.pending_work import due_reminders, reminders_done
from workers.context import current
from workers.sms import remind

log = logging.getLogger(__name__)

BATCH = 500
REMINDERS_DUE_KEY = "sg:reminders:due"
REMINDERS_DUE_TTL_S = 60
REMINDERS_LOCK = "sg:reminders:lock"


def send_due_reminders() -> int:
    """Send every reminder that is due; how many were taken."""
    rt = current().runtime
    rt.redis.delete(REMINDERS_DUE_KEY)
    lock = rt.redis.lock(REMINDERS_LOCK, timeout=120, blocking_timeout=0)
    if not lock.acquire():
        return 0  # another worker is sending them
    try:
        count = 0
        while due := due_reminders(rt.redis, BATCH):
            for run_id, _, seq, number in due:
                # Sends it if the run still waits on that step, and plans the next one.
                remind(run_id, seq, number)
            # Taken after: a worker dying midway sends again rather than never (one reply
            # key per reminder, so the outbox holds it once). A reminder planned meanwhile
            # (the next one) has a new score and stays.
            reminders_done(rt.redis, [(run_id, score) for run_id, score, _, _ in due])
            count += len(due)
            lock.reacquire()
        return count
    finally:
        lock.release()


def ask_for_reminders(rt: Runtime) -> bool:
    """Queue the reminders job if one is due and none is queued."""
    if due_reminders(rt.redis, 1) and rt.redis.set(
        REMINDERS_DUE_KEY, "1", nx=True, ex=REMINDERS_DUE_TTL_S
    ):
        rt.jobs.send_due_reminders()
        return True
    return False
