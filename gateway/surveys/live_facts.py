"""Facts that protect a person: kept in the database, copied into Redis for speed.

The database is the record of every opt-out (STOP), completed survey and approved enumerator.
Redis holds a copy so that a USSD screen needs no SQL; but Redis may lose its data at any
moment (a restart without its append-only file, FLUSHALL, a new server). So the copy is
trusted only while the marker ``sg:facts`` says it was loaded whole: a Redis that lost its
data lost the marker too, and every question then goes to the database until a worker has
copied the facts back (``rebuild``).

A fact found in Redis is always true (STOP is written there first, at the webhook); only its
absence needs the marker to be believed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.enumerators.models import Enumerator, EnumeratorStatus
from gateway.surveys.live_keys import FACTS_READY_KEY, done_key, enumerator_key, optout_key
from gateway.surveys.models import OptOut, Submission, SubmissionStatus

log = logging.getLogger(__name__)

# Keys written per round trip while copying the facts back.
REBUILD_BATCH = 1000
REBUILD_LOCK_TIMEOUT_S = 600
# Asked in chunks: a campaign batch, or a long IN list, stays well under every driver's limit.
_IN_CHUNK = 500


class SqlFacts:
    """The protective facts as the database holds them (the store's fallback)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def opted_out_among(self, respondents: Sequence[str]) -> set[str]:
        """Those of ``respondents`` with an opt-out on record."""
        found: set[str] = set()
        with self.sessions() as session:
            for chunk in _chunks(list(respondents), _IN_CHUNK):
                found.update(
                    session.scalars(
                        select(OptOut.respondent_id).where(OptOut.respondent_id.in_(chunk))
                    )
                )
        return found

    def has_completed(self, flow_id: str, respondent: str) -> bool:
        """Whether a completed submission of ``flow_id`` by ``respondent`` is on record."""
        with self.sessions() as session:
            found = session.scalar(
                select(Submission.id)
                .where(
                    Submission.respondent_id == respondent,
                    Submission.flow == flow_id,
                    Submission.status == SubmissionStatus.COMPLETED,
                )
                .limit(1)
            )
        return found is not None

    def enumerator_code(self, respondent: str) -> str | None:
        """The code of the approved enumerator with this pseudonym, if the record has one."""
        with self.sessions() as session:
            return session.scalar(
                select(Enumerator.code).where(
                    Enumerator.respondent_id == respondent,
                    Enumerator.status == EnumeratorStatus.APPROVED,
                )
            )


def facts_ready(client: redis.Redis) -> bool:
    """Whether Redis holds the whole copy of the facts (nothing lost since it was made)."""
    return bool(client.exists(FACTS_READY_KEY))


def rebuild(client: redis.Redis, sessions: sessionmaker[Session]) -> int | None:
    """Copy every protective fact from the database into Redis, then mark the copy whole.

    Returns how many facts were copied, or None when the copy is already whole or another
    worker is making it. Safe to run at any time: it only adds what the database holds.
    """
    if facts_ready(client):
        return None
    lock = client.lock("sg:facts:rebuild", timeout=REBUILD_LOCK_TIMEOUT_S)
    if not lock.acquire(blocking=False):
        return None
    try:
        if facts_ready(client):
            return None
        copied = 0
        with sessions() as session:
            opt_outs = session.scalars(
                select(OptOut.respondent_id).execution_options(yield_per=REBUILD_BATCH)
            )
            copied += _write(client, ((optout_key(r), "1") for r in opt_outs))
            completed = session.execute(
                select(Submission.flow, Submission.respondent_id, Submission.id)
                .where(Submission.status == SubmissionStatus.COMPLETED)
                .execution_options(yield_per=REBUILD_BATCH)
            )
            copied += _write(client, ((done_key(f, r), run) for f, r, run in completed))
            approved = session.execute(
                select(Enumerator.respondent_id, Enumerator.code).where(
                    Enumerator.status == EnumeratorStatus.APPROVED,
                    Enumerator.code.is_not(None),
                )
            )
            copied += _write(client, ((enumerator_key(r), str(c)) for r, c in approved if c))
        client.set(FACTS_READY_KEY, "1")
        return copied
    finally:
        try:
            lock.release()
        except redis.exceptions.LockError:
            pass  # outlived its lock: the marker is set either way


def _write(client: redis.Redis, items: Iterable[tuple[str, str]]) -> int:
    """SET each key, a batch per round trip; how many were written."""
    count = 0
    pipe = client.pipeline(transaction=False)
    for key, value in items:
        pipe.set(key, value)
        count += 1
        if count % REBUILD_BATCH == 0:
            pipe.execute()
    pipe.execute()
    return count


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
