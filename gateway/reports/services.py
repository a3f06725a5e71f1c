"""Reports kept and withdrawn: what the workers do with an enumerator's completed report, and
with ``ANNULER REF``.

Both take a SQLAlchemy session and leave committing to the caller, as
``gateway.surveys.persistence`` does; both are safe to run twice.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core.crypto import normalise_reference, reference_code
from gateway.enumerators.models import Enumerator
from gateway.reports.models import Report
from gateway.staff.audit import audit
from gateway.surveys.persistence import RunSnapshot

WITHDRAW_WITHIN = timedelta(hours=1)
"""How long after sending it an enumerator may withdraw a report by SMS."""


def keep_report(session: Session, run: RunSnapshot, enumerator_code: str) -> Report:
    """Store a completed report run (its respondent is its author, the enumerator with
    ``enumerator_code``) once; storing the same run again changes nothing."""
    stored = session.get(Report, run.run_id)
    if stored is not None:
        return stored
    enumerator_id = session.scalar(
        select(Enumerator.id).where(Enumerator.respondent_id == run.respondent_id)
    )
    answers = {key: value for key, (value, _, _) in run.answers.items()}
    report = Report(
        id=run.run_id,
        reference=reference_code(run.run_id),
        enumerator_id=enumerator_id,
        enumerator_code=enumerator_code,
        flow=run.flow,
        flow_version=run.flow_version,
        channel=run.channel,
        language=run.language,
        answers_json=json.dumps(answers, sort_keys=True),
        received_at=run.completed_at or run.updated_at,
    )
    session.add(report)
    session.flush()
    return report


class Withdrawal(StrEnum):
    """What became of an ``ANNULER REF``; each value names the text the enumerator is sent."""

    WITHDRAWN = "withdrawn"
    ALREADY = "withdraw_already"
    TOO_LATE = "withdraw_too_late"
    NOT_YOURS = "withdraw_not_yours"
    UNKNOWN = "withdraw_unknown"


def withdraw(
    session: Session, author: str, code: str, typed: str, at: datetime
) -> tuple[Withdrawal, str]:
    """Withdraw the report of enumerator ``code`` (pseudonym ``author``) that ``typed`` names,
    if it was sent less than an hour before ``at``; the outcome and the reference as read.

    A withdrawn report is marked, never deleted, and the withdrawal is in the audit log.
    """
    reference = normalise_reference(typed)
    if reference is None:
        return Withdrawal.UNKNOWN, typed.strip()[:12].upper()
    found = list(
        session.scalars(
            select(Report).where(Report.reference == reference).order_by(Report.received_at.desc())
        )
    )
    own = [r for r in found if r.enumerator_code == code]
    if not own:
        return (Withdrawal.NOT_YOURS if found else Withdrawal.UNKNOWN), reference
    report = own[0]
    if report.withdrawn_at is not None:
        return Withdrawal.ALREADY, reference
    if at - report.received_at > WITHDRAW_WITHIN:
        return Withdrawal.TOO_LATE, reference
    report.withdrawn_at = at
    audit(session, code, "report.withdraw", "report", report.id, f"{report.flow} {reference}")
    session.flush()
    return Withdrawal.WITHDRAWN, reference
