"""The SMS reminders waiting in live state, and making them due now (as time passing would)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from gateway.core.runtime import Runtime
from gateway.surveys.pending_work import (
    REMINDER_STEPS_KEY,
    REMINDERS_KEY,
    read_reminder,
    reminder_score,
)


def pending_reminders(runtime: Runtime) -> dict[str, tuple[datetime, str]]:
    """Per run id: when its next reminder is due, and which (``seq:number``)."""
    due = runtime.redis.zrange(REMINDERS_KEY, 0, -1, withscores=True)
    steps = runtime.redis.hgetall(REMINDER_STEPS_KEY)
    pending = {}
    for run_id, score in due:
        at, seq, number = read_reminder(score, steps.get(run_id))
        pending[run_id.decode()] = (datetime.fromtimestamp(at, UTC), f"{seq}:{number}")
    return pending


def make_reminders_due(runtime: Runtime) -> list[str]:
    """Bring every pending reminder's time to now and queue the job sending them."""
    pending = pending_reminders(runtime)
    if pending:
        now = time.time() - 2
        runtime.redis.zadd(
            REMINDERS_KEY,
            {
                run_id: reminder_score(now, *map(int, step.split(":"))) or now
                for run_id, (_, step) in pending.items()
            },
        )
        runtime.jobs.send_due_reminders()
    return list(pending)
