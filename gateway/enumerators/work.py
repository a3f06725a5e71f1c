"""Enumerators as a supervisor follows them: how many in each status, a page of one status, and
the work each has done (surveys taken for households, and when they last worked).

An enumerator's work is the submissions that carry their code; a code is kept for good, so a
revoked enumerator's past work still counts. Nothing here reads a number: listings show the
masked one the registration kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.enumerators.models import Enumerator, EnumeratorStatus
from gateway.surveys.models import Submission


@dataclass(frozen=True, slots=True)
class EnumeratorWork:
    """An enumerator and the work they have done."""

    enumerator: Enumerator
    submissions: int
    last_activity: datetime | None


def status_counts(session: Session) -> dict[EnumeratorStatus, int]:
    """How many enumerators are in each status (every status named, zero included)."""
    counted = dict(
        session.execute(select(Enumerator.status, func.count()).group_by(Enumerator.status)).all()
    )
    return {status: int(counted.get(status, 0)) for status in EnumeratorStatus}


def enumerators_page(
    session: Session, status: EnumeratorStatus, *, offset: int, limit: int
) -> list[EnumeratorWork]:
    """One page of the enumerators in ``status``, oldest registration first, with their work."""
    rows = list(
        session.scalars(
            select(Enumerator)
            .where(Enumerator.status == status)
            .order_by(Enumerator.created_at, Enumerator.id)
            .offset(offset)
            .limit(limit)
        )
    )
    codes = [row.code for row in rows if row.code]
    work: dict[str, tuple[int, datetime | None]] = {}
    if codes:
        stmt = (
            select(Submission.enumerator_code, func.count(), func.max(Submission.updated_at))
            .where(Submission.enumerator_code.in_(codes))
            .group_by(Submission.enumerator_code)
        )
        work = {str(code): (int(count), last) for code, count, last in session.execute(stmt)}
    return [EnumeratorWork(row, *work.get(row.code or "", (0, None))) for row in rows]
