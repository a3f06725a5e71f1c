"""The reminder SMS to an approved enumerator who has sent no report for a number of days.

Off unless ``GATEWAY_REPORT_REMINDER_DAYS`` is set. The maintenance job calls
:func:`remind_quiet_enumerators` every hour; the messages table is the record of reminders
sent, so an enumerator is reminded at most once every that many days, whichever worker runs
the job and however often Redis is emptied. The quiet period starts at the enumerator's last
kept report (a withdrawn one was taken back), or at their approval when they never sent one.
Nobody who sent STOP is reminded, nor anyone no longer approved.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from flows import Flow
from gateway.core.crypto import NumberCipher
from gateway.enumerators.models import Enumerator, EnumeratorStatus
from gateway.messaging.models import Message
from gateway.reports.models import Report
from gateway.surveys.models import OptOut, Respondent
from gateway.surveys.persistence import create_message
from handlers.gsm import ascii_screen

log = logging.getLogger(__name__)

REMINDER_KIND = "report_reminder"
REMINDER_TEXT = "report_reminder"


def remind_quiet_enumerators(
    session: Session, *, now: datetime, days: int, cipher: NumberCipher, flow: Flow
) -> list[str]:
    """Queue the reminder for every approved enumerator quiet for ``days`` days and not
    reminded in that time; the ids of the messages made, for the caller to send once committed.

    ``flow`` is the registration flow, whose ``report_reminder`` text the SMS is. A flow
    without that text (a deployment's own) reminds nobody, and says so in the log.
    """
    if days <= 0:
        return []
    if not flow.has_text(REMINDER_TEXT):
        log.warning(
            "report reminders are on but the registration flow has no %r text", REMINDER_TEXT
        )
        return []
    since = now - timedelta(days=days)
    last_report = (
        select(Report.enumerator_code, func.max(Report.received_at).label("at"))
        .where(Report.withdrawn_at.is_(None))
        .group_by(Report.enumerator_code)
        .subquery()
    )
    last_reminder = (
        select(Message.respondent_id, func.max(Message.created_at).label("at"))
        .where(Message.kind == REMINDER_KIND)
        .group_by(Message.respondent_id)
        .subquery()
    )
    quiet = session.execute(
        select(Enumerator, Respondent.language)
        .outerjoin(last_report, last_report.c.enumerator_code == Enumerator.code)
        .outerjoin(last_reminder, last_reminder.c.respondent_id == Enumerator.respondent_id)
        .outerjoin(OptOut, OptOut.respondent_id == Enumerator.respondent_id)
        .outerjoin(Respondent, Respondent.id == Enumerator.respondent_id)
        .where(
            Enumerator.status == EnumeratorStatus.APPROVED,
            OptOut.respondent_id.is_(None),
            func.coalesce(last_report.c.at, Enumerator.decided_at, Enumerator.created_at) < since,
            (last_reminder.c.at.is_(None)) | (last_reminder.c.at < since),
        )
        .order_by(Enumerator.code)
    ).all()
    made: list[str] = []
    for enumerator, language in quiet:
        text = flow.text(
            REMINDER_TEXT, flow.language_or_default(language), code=enumerator.code, days=days
        )
        message = create_message(
            session,
            submission_id=None,
            respondent_id=enumerator.respondent_id,
            kind=REMINDER_KIND,
            to_e164=cipher.decrypt(enumerator.phone_encrypted),
            body=ascii_screen(text),
            cipher=cipher,
        )
        # The job's moment, not the wall clock's: the next run measures the days from it.
        message.created_at = now
        made.append(message.id)
    session.flush()
    return made
