"""Storing the runs that changed, in batches: one transaction for up to ``BATCH`` runs.

A USSD or SMS step does not queue a job of its own: it marks its run in the set of changed
runs (``gateway.surveys.pending_work``) and asks for a drain only when none is due. A drain
takes what is due, oldest change first, stores each run's latest state (respondent,
submission, answers, confirmation), commits, queues the confirmations, and unmarks each run
that did not change again meanwhile. Nothing is unmarked before its state is committed, so a
worker dying midway leaves the runs marked for the next drain; storing a run twice is
harmless (``gateway.surveys.persistence`` converges on the newest state).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy.exc import InterfaceError, OperationalError

from gateway.core.runtime import Runtime
from gateway.surveys.live_batch import DRAIN_DUE_KEY, DRAIN_DUE_TTL_S
from gateway.surveys.pending_work import Mark, defer_dirty, dirty_runs, has_dirty, stored
from handlers.ports import RunRecord
from workers.context import current
from workers.jobs import store_run

log = logging.getLogger(__name__)

BATCH = 500
# One drain at a time: two would store the same runs twice over, and race on their rows.
DRAIN_LOCK = "sg:drain:lock"
DRAIN_LOCK_TIMEOUT_S = 120
DRAIN_LOCK_WAIT_S = 60
# A run whose rows cannot be written (a bug, bad data) is tried again this much later, alone,
# instead of holding back every run after it.
RETRY_ALONE_AFTER = timedelta(minutes=1)
# A drain takes seconds: runs marked longer ago than this have no drain coming.
STALE_AFTER = timedelta(seconds=30)
# What a damaged live record raises when read.
_UNREADABLE = (ValueError, KeyError, TypeError)
# The database unreachable: no run is at fault, all wait.
_DATABASE_AWAY = (OperationalError, InterfaceError)


def drain_runs() -> int:
    """Store every changed run that is due; how many were stored."""
    rt = current().runtime
    # From now on a change asks for a new drain: none made after this can be missed.
    rt.redis.delete(DRAIN_DUE_KEY)
    lock = rt.redis.lock(
        DRAIN_LOCK, timeout=DRAIN_LOCK_TIMEOUT_S, blocking_timeout=DRAIN_LOCK_WAIT_S
    )
    if not lock.acquire():
        # Another drain is at work and takes whatever is due until none is left.
        return 0
    try:
        count = 0
        while marks := dirty_runs(rt.redis, BATCH):
            count += _store_batch(rt, marks)
            lock.reacquire()
        return count
    finally:
        lock.release()


def ask_for_drain(rt: Runtime) -> bool:
    """Queue a drain if changed runs wait and none is due, or they have waited too long (a
    drain lost with its job, or Redis restarted with the mark of a drain that is gone)."""
    if has_dirty(rt.redis, older_than=STALE_AFTER):
        due = rt.redis.set(DRAIN_DUE_KEY, "1", ex=DRAIN_DUE_TTL_S)  # whatever the mark says
    else:
        due = has_dirty(rt.redis) and rt.redis.set(DRAIN_DUE_KEY, "1", nx=True, ex=DRAIN_DUE_TTL_S)
    if due:
        rt.jobs.drain()
    return bool(due)


def _store_batch(rt: Runtime, marks: list[Mark]) -> int:
    run_ids = [run_id for run_id, _ in marks]
    records: list[RunRecord | None | bool]
    try:
        records = list(rt.store.load_runs(run_ids))
    except _UNREADABLE:
        # A record that cannot be read: read them one by one, and leave that one for later.
        records = [_readable_run(rt, run_id) for run_id in run_ids]
    present = [record for record in records if isinstance(record, RunRecord)]
    unreadable = [
        run_id for run_id, record in zip(run_ids, records, strict=True) if record is False
    ]
    defer_dirty(rt.redis, unreadable, RETRY_ALONE_AFTER)
    marks = [mark for mark in marks if mark[0] not in set(unreadable)]
    try:
        with rt.sessions.begin() as session:
            message_ids = [store_run(session, record) for record in present]
    except _DATABASE_AWAY:
        raise  # nothing is unmarked: the job's retries, or the next drain, store them
    except Exception as exc:
        # One run cannot be written (bad data, a bug): store the others, one by one.
        log.warning(
            "a batch of %d runs failed (%s): storing them one by one",
            len(present),
            type(exc).__name__,
        )
        message_ids, failed = _store_alone(present)
        defer_dirty(rt.redis, failed, RETRY_ALONE_AFTER)
        marks = [mark for mark in marks if mark[0] not in set(failed)]
    # The confirmations, queued together: one round trip, not one per completed run.
    rt.jobs.send_messages([message_id for message_id in message_ids if message_id is not None])
    # Runs gone from live state (erased, expired) have nothing left to store: unmarked too.
    stored(rt.redis, marks)
    return len(present)


def _readable_run(rt: Runtime, run_id: str) -> RunRecord | None | bool:
    try:
        return rt.store.load_run(run_id)
    except _UNREADABLE:
        log.exception("run %s cannot be read from live state; tried again later", run_id)
        return False


def _store_alone(records: list[RunRecord]) -> tuple[list[str | None], list[str]]:
    rt = current().runtime
    message_ids: list[str | None] = []
    failed: list[str] = []
    for record in records:
        try:
            with rt.sessions.begin() as session:
                message_ids.append(store_run(session, record))
        except _DATABASE_AWAY:
            raise
        except Exception:
            log.exception("run %s could not be stored; tried again later", record.state.run_id)
            failed.append(record.state.run_id)
    return message_ids, failed
