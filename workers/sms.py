"""Jobs of the SMS channel: replies, reminders, erasure, opt-outs, and the SMS offer after a
dropped USSD session.

Each takes ids or small values (numbers only encrypted) and is safe to run twice.
"""

from __future__ import annotations

import logging
import re
import uuid
from datetime import datetime

from sqlalchemy import delete, select

from flows import QuestionAsked, show
from flows.sms_compose import offer_sms as offer_body
from flows.sms_compose import reminder_sms
from gateway.campaigns.models import CampaignContact
from gateway.core.errors import PermanentSendError
from gateway.enumerators.models import Enumerator
from gateway.messaging.models import Message, MessageStatus
from gateway.surveys.models import OptOut, Respondent, Submission
from handlers.phone import mask_phone
from workers.context import current
from workers.jobs import send_message

log = logging.getLogger(__name__)

# Message ids derived from the reply's key: a job run twice finds the row it made.
_REPLY_IDS = uuid.UUID("6f1d7a52-2d0e-4c55-9a43-3c1f5f0b9e10")


# A campaign's invitations and their reminders are keyed "campaign-<campaign id>-<contact>..."
# (workers.campaigns.reply_key): the campaign whose throttle paces them.
_CAMPAIGN_KEY = re.compile(r"campaign-([0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12})-")


def reply_message_id(key: str) -> str:
    """The outbox id of the reply keyed ``key``: known before the reply's job has run."""
    return str(uuid.uuid5(_REPLY_IDS, key))


def campaign_of_reply(key: str) -> str | None:
    """The campaign a reply belongs to, read from its key; None for a reply to a household."""
    found = _CAMPAIGN_KEY.match(key)
    return found.group(1) if found else None


def send_reply(key: str, respondent: str, *args: str) -> None:
    """The job: record one reply in the outbox, then send it, to the number kept for it.

    ``args`` is ``(kind, body)``. A job queued before numbers left the jobs carries
    ``(phone_token, kind, body)``, and is still sent.
    """
    rt = current().runtime
    if len(args) == 3:
        phone_token: str | None = args[0]
        kind, body = args[1], args[2]
    else:
        kind, body = args
        phone_token = rt.store.phone(respondent)
    if phone_token is None:
        message_id = reply_message_id(key)
        with rt.sessions() as session:
            recorded = session.get(Message, message_id) is not None
        if recorded:
            send_message(message_id)  # an earlier attempt stored it, number and all
        else:
            # Erased since (EFFACER drops the number with the rest), or kept past its time:
            # there is nobody to send it to.
            log.info("reply %s not sent: its number is no longer kept", key)
        return
    record_reply(key, respondent, phone_token, kind, body)


def record_reply(key: str, respondent: str, phone_token: str, kind: str, body: str) -> None:
    """Record one reply in the outbox (once, whatever the retries), then send it."""
    rt = current().runtime
    message_id = reply_message_id(key)
    with rt.sessions.begin() as session:
        if session.get(Message, message_id) is None:
            to = rt.cipher.decrypt(phone_token)
            session.add(
                Message(
                    id=message_id,
                    submission_id=None,
                    respondent_id=respondent,
                    campaign_id=campaign_of_reply(key),
                    kind=kind,
                    to_encrypted=rt.cipher.encrypt(to),
                    to_masked=mask_phone(to),
                    body=body,
                    status=MessageStatus.QUEUED,
                    attempts=0,
                )
            )
    send_message(message_id)


def remind(run_id: str, seq: int, number: int) -> None:
    """Remind a respondent whose run still waits on step ``seq``; plan the next reminder."""
    rt = current().runtime
    record = rt.store.load_run(run_id)
    if record is None or not record.state.is_active or record.state.seq != seq:
        return  # answered, ended, expired or erased since
    flow = rt.flow_of(record.state)
    # A campaign's run carries the campaign's reminders; any other run has the flow's.
    count, interval = record.reminders(flow)
    if rt.store.is_opted_out(record.respondent) or number > count:
        return
    body = reminder_sms(flow, record.state.language)
    record_reply(
        f"remind-{run_id}-{seq}-{number}", record.respondent, record.phone_token, "reminder", body
    )
    if number < count:
        rt.jobs.remind(run_id, seq, number + 1, interval)


def erase_respondent(respondent: str, *args: str) -> None:
    """Delete everything stored about a respondent, then tell them (nothing of it is kept).

    ``args`` is ``(body,)``; the number is the one kept for the respondent's replies. A job
    queued before numbers left the jobs carries ``(phone_token, body)``.
    """
    ctx = current()
    rt = ctx.runtime
    phone_token = args[0] if len(args) == 2 else rt.store.phone(respondent)
    body = args[-1]
    with rt.sessions.begin() as session:
        submission_ids = select(Submission.id).where(Submission.respondent_id == respondent)
        session.execute(delete(Message).where(Message.respondent_id == respondent))
        session.execute(delete(Message).where(Message.submission_id.in_(submission_ids)))
        session.execute(delete(Submission).where(Submission.respondent_id == respondent))
        session.execute(delete(Respondent).where(Respondent.id == respondent))
        # An enumerator's registration holds their number too: it goes, and so does the role.
        session.execute(delete(Enumerator).where(Enumerator.respondent_id == respondent))
        # Campaign lists hold the number too (encrypted): the person leaves every list.
        session.execute(delete(CampaignContact).where(CampaignContact.respondent_id == respondent))
    rt.store.forget(respondent)
    rt.store.set_enumerator(respondent, None)
    if body and phone_token:
        try:
            ctx.sender.send(rt.cipher.decrypt(phone_token), body)
        except PermanentSendError as exc:
            log.warning("erasure confirmation not sent: %s", exc)
    # Last: a retry of this job (AT unreachable) still finds where the confirmation goes.
    rt.store.drop_phone(respondent)


def record_opt_out(respondent: str, opted_out: bool, at: str) -> None:
    """Keep STOP (or START) in the database, where it outlives any Redis loss."""
    rt = current().runtime
    with rt.sessions.begin() as session:
        existing = session.get(OptOut, respondent)
        if opted_out and existing is None:
            session.add(OptOut(respondent_id=respondent, opted_out_at=datetime.fromisoformat(at)))
        elif not opted_out and existing is not None:
            session.delete(existing)


def offer_sms(run_id: str) -> None:
    """After a dropped USSD session, send the current question by SMS (if the flow says so)."""
    rt = current().runtime
    record = rt.store.load_run(run_id)
    if record is None or not record.state.is_active or rt.store.is_opted_out(record.respondent):
        return
    flow = rt.flow_of(record.state)
    if not flow.offer_sms_after_ussd_drop:
        return
    screen = show(flow, record.state).screen
    if not isinstance(screen, QuestionAsked):
        return
    key = f"offer-{run_id}-{record.state.seq}"
    body = offer_body(flow, screen, record.state.language)
    record_reply(key, record.respondent, record.phone_token, "continue_by_sms", body)
    count, interval = record.reminders(flow)
    if count > 0:
        rt.jobs.remind(run_id, record.state.seq, 1, interval)
