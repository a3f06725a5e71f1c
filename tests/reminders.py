"""The SMS reminders waiting in live state, and making them due now (as time passing would)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from gateway.core.runtime import Runtime
from gateway.surveys.pending_work import REMINDER_STEPS_KEY, REMINDERS_KEY


def pending_reminders(runtime: Runtime) -> dict[str, tuple[datetime, str]]:
    """Per run id: when its next reminder is due, and which (``seq:number``)."""
    due = runtime.redis.zrange(REMINDERS_KEY, 0, -1, withscores=True)
    steps = runtime.redis.hgetall(REMINDER_STEPS_KEY)
    return {
        run_id.decode(): (datetime.fromtimestamp(score, UTC), steps[run_id].decode())
        for run_id, score in due
    }


def make_reminders_due(runtime: Runtime) -> list[str]:
    """Bring every pending reminder's time to now and queue the job sending them."""
    pending = list(pending_reminders(runtime))
    if pending:
        runtime.redis.zadd(REMINDERS_KEY, dict.fromkeys(pending, time.time() - 1))
        runtime.jobs.send_due_reminders()
    return pending
