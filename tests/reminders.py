"""The SMS reminders waiting in live state, and making them due now (as time passing would)."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest

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
    pending = bring_reminders_due(runtime)
    if pending:
        runtime.jobs.send_due_reminders()
    return pending


def bring_reminders_due(runtime: Runtime) -> list[str]:
    """Bring every pending reminder's time to now (the job is left for the test to run)."""
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
    return list(pending)


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Fail, rather than hang, when the work inside goes on past ``seconds`` (a loop that
    never ends). Main thread only: it rides on SIGALRM."""

    def too_long(signum: int, frame: object) -> None:
        # Not an Exception: no retry on a Redis or database error may swallow it.
        pytest.fail(f"still going after {seconds} s")

    previous = signal.signal(signal.SIGALRM, too_long)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
