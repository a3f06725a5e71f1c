"""Campaign jobs: the fan-out that sends invitations, invitation reminders, and cancelling them.

``fan_out(campaign_id)`` invites the next batch of a running campaign's queued contacts, then
queues the next batch (or, outside the sending window, the same job at the next opening).

- **One worker per campaign.** A Redis lock per campaign: a second fan-out job that finds it
  held queues itself again a little later (unless a fan-out job already waits) and ends. The
  holder renews it every second and queues the next batch when done; if the holder died, the
  lock lapses within LOCK_TIMEOUT_S and the job queued later carries on.
- **Pace.** A rate limiter in Redis (``gateway.core.rate_limit``) shared by every worker holds a
  campaign to its throttle. A short wait for the next grant is slept within the job; a long
  one queues the job again. The fan-out sends each invitation itself (``workers.send_now``).
- **Restart safety.** A batch is claimed (``queued`` → ``sending``) before anything is sent,
  and once a contact's invitation is sent the contact is marked ``sent`` with its run and
  message (written 25 at a time). A worker that dies in between leaves contacts ``sending``;
  the next fan-out takes them first and sends again under the same reply key
  (``campaign-<campaign>-<contact>``): a reply whose key is already in the outbox is not sent
  twice, nor is a second run started (see ``handlers.sms.start_survey_by_sms``). No contact
  is lost, none is texted twice.
- **Reminders.** An SMS campaign's runs carry the campaign's reminder count and interval, so
  the usual per-question reminders (``workers.sms.remind``) follow them and stop once the run
  is answered or ends. A USSD invitation is repeated by ``remind_invitation`` until the
  household completes the survey. Cancelling a campaign stops both.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta

from cryptography.fernet import InvalidToken
from redis.exceptions import LockNotOwnedError
from redis.lock import Lock
from rq import get_current_job
from sqlalchemy import select, update

from flows.gsm7 import to_gsm7
from gateway.campaigns.definition import invitation_text, next_send_time
from gateway.campaigns.lifecycle import complete_campaign
from gateway.campaigns.models import (
    Campaign,
    CampaignChannel,
    CampaignContact,
    CampaignStatus,
    ContactStatus,
)
from gateway.campaigns.queue import hold_key
from gateway.campaigns.services import campaign_jobs
from gateway.campaigns.waves import is_repeating
from gateway.core.rate_limit import RateLimiter
from gateway.core.runtime import Runtime
from gateway.surveys.live_facts import SqlFacts
from handlers.ports import Reply
from handlers.sms import start_survey_by_sms
from workers.contact_outcomes import Marks, completed_status, invitation_went, sent_invitation
from workers.context import WorkerContext, current
from workers.send_now import HeldReplies, send_now
from workers.sms import record_reply, reply_message_id

log = logging.getLogger(__name__)

BATCH_SIZE = 200
# Seconds of sending per job; the next batch is another job, so workers take turns.
FAN_OUT_BUDGET_S = 30.0
# The longest wait for the rate limiter slept within a job; a longer one re-queues the job.
MAX_SLEEP_S = 2.0
STOP_CHUNK = 500
# Longer than any batch takes (FAN_OUT_BUDGET_S and a last sleep), shorter than RQ's timeout.
# The hold on a campaign lapses this long after its holder last renewed it (every second while
# it sends): a worker killed mid-batch holds its campaign up for no longer than this.
LOCK_TIMEOUT_S = 15
# A fan-out that finds its campaign held looks again this soon: once a dead holder's hold
# lapses, sending resumes within this.
LOCK_BUSY_RETRY_S = 2
# How often (s) a batch checks it may go on.
STATUS_CHECK_S = 1.0
_WAITING = (ContactStatus.QUEUED, ContactStatus.SENDING)


def reply_key(campaign_id: str, contact_id: int) -> str:
    """The key of a contact's invitation: the same on every attempt, so it is sent once."""
    return f"campaign-{campaign_id}-{contact_id}"


def fan_out(campaign_id: str) -> None:
    """Invite the next batch of a running campaign's contacts, then queue what comes next."""
    ctx = current()
    rt = ctx.runtime
    job = get_current_job()
    if job is not None:
        campaign_jobs(rt).started(campaign_id, job.id)  # another job may be queued now
    lock = rt.redis.lock(hold_key(campaign_id), timeout=LOCK_TIMEOUT_S)
    if not lock.acquire(blocking=False):
        # Another worker is inviting this campaign's contacts, or died doing so: look again
        # later. Only one fan-out job ever waits, so this cannot start a second chain.
        later = ctx.clock.now() + timedelta(seconds=LOCK_BUSY_RETRY_S)
        campaign_jobs(rt).fan_out(campaign_id, at=later)
        return
    try:
        next_at = _send_batch(ctx, campaign_id, lock)
    finally:
        try:
            lock.release()
        except LockNotOwnedError:
            log.warning("campaign %s: the fan-out outlasted its lock", campaign_id)
    if next_at is not None:
        # Released first: the next job must find the lock free.
        soon = next_at <= ctx.clock.now()
        campaign_jobs(rt).fan_out(campaign_id, at=None if soon else next_at)


def _send_batch(ctx: WorkerContext, campaign_id: str, lock: Lock) -> datetime | None:
    """Invite one batch; returns when the fan-out should go on (None: it should not)."""
    rt, clock = ctx.runtime, ctx.clock
    with rt.sessions() as session:
        campaign = session.get(Campaign, campaign_id)
        if campaign is None or campaign.status is not CampaignStatus.RUNNING:
            return None
        now = clock.now()
        opening = next_send_time(campaign, now)
        if opening > now:
            log.info("campaign %s: outside its hours; going on at %s", campaign_id, opening)
            return opening
        contacts = list(
            session.scalars(
                select(CampaignContact)
                .where(
                    CampaignContact.campaign_id == campaign_id,
                    CampaignContact.status.in_(_WAITING),
                )
                .order_by(CampaignContact.id)
                .limit(BATCH_SIZE)
            )
        )
        session.expunge_all()
    if not contacts:
        with rt.sessions.begin() as session:
            if complete_campaign(session, campaign_id, clock.now()):
                log.info("campaign %s: every contact invited; completed", campaign_id)
        return None
    with rt.sessions.begin() as session:
        # The claim: from here a contact may have been invited, so it is never re-queued.
        session.execute(
            update(CampaignContact)
            .where(
                CampaignContact.id.in_([c.id for c in contacts]),
                CampaignContact.status == ContactStatus.QUEUED,
            )
            .values(status=ContactStatus.SENDING)
            .execution_options(synchronize_session=False)
        )
    marks = Marks(rt)
    try:
        return _invite_all(ctx, campaign, contacts, marks, lock)
    finally:
        marks.flush()


def _invite_all(
    ctx: WorkerContext,
    campaign: Campaign,
    contacts: list[CampaignContact],
    marks: Marks,
    lock: Lock,
) -> datetime | None:
    rt, clock = ctx.runtime, ctx.clock
    limiter = RateLimiter(rt.redis, clock)
    rate_key = f"sg:campaign:{campaign.id}:rate"
    # The database's record of opt-outs, besides Redis' copy (which may have lost some): a
    # contact who sent STOP is marked so here rather than refused at AT's door.
    on_record = SqlFacts(rt.sessions).opted_out_among([c.respondent_id for c in contacts])
    started = checked = clock.now()
    for contact in contacts:
        now = clock.now()
        opening = next_send_time(campaign, now)
        if opening > now or (now - started).total_seconds() > FAN_OUT_BUDGET_S:
            return opening
        if (now - checked).total_seconds() >= STATUS_CHECK_S:
            # Staff may pause or cancel at any moment: it takes effect within a second.
            checked = now
            if _status(rt, campaign.id) is not CampaignStatus.RUNNING:
                return None  # claimed contacts stay claimed, and go first on resume
            if not _renew(lock):
                # Held up past the hold (an outage): another worker may have the campaign now.
                log.warning("campaign %s: the fan-out lost its hold; handing on", campaign.id)
                return clock.now()
        if contact.respondent_id in on_record or rt.store.is_opted_out(contact.respondent_id):
            marks.add(contact.id, ContactStatus.OPTED_OUT)
            continue
        wait = limiter.try_acquire(rate_key, campaign.throttle)
        while wait > 0:
            if wait > MAX_SLEEP_S:
                return clock.now() + timedelta(seconds=wait)
            clock.sleep(wait)
            wait = limiter.try_acquire(rate_key, campaign.throttle)
        _invite(ctx, campaign, contact, marks)
    log.info("campaign %s: %d contact(s) done in this batch", campaign.id, len(contacts))
    return clock.now()


def _renew(lock: Lock) -> bool:
    """Renew the hold on the campaign for another LOCK_TIMEOUT_S; False if it was lost."""
    try:
        lock.reacquire()
    except LockNotOwnedError:
        return False
    return True


def _status(rt: Runtime, campaign_id: str) -> CampaignStatus | None:
    with rt.sessions() as session:
        return session.scalar(select(Campaign.status).where(Campaign.id == campaign_id))


def _invite(ctx: WorkerContext, campaign: Campaign, contact: CampaignContact, marks: Marks) -> None:
    """Queue the contact's invitation (the survey's first question, or the SMS to dial)."""
    rt = ctx.runtime
    flow = rt.flows[campaign.flow]
    key = reply_key(campaign.id, contact.id)
    try:
        phone = rt.cipher.decrypt(contact.phone_encrypted)
    except InvalidToken:
        # The key it was encrypted under is no longer configured: no retry can help.
        log.warning("campaign %s contact %s: number cannot be decrypted", campaign.id, contact.id)
        marks.add(contact.id, ContactStatus.FAILED)
        return
    run_id: str | None = None
    if campaign.channel is CampaignChannel.SMS:
        again = is_repeating(campaign)
        if again and contact.status is ContactStatus.SENDING:
            # Claimed by a fan-out that died: its invitation may have gone, and the run it
            # started may be over. Completed earlier waves do not stop this one, so only the
            # outbox can say this wave's invitation went.
            sent = sent_invitation(rt, campaign, contact, key)
            if sent is not None:
                now = ctx.clock.now()
                marks.add(
                    contact.id, ContactStatus.SENT, run_id=sent[1], message_id=sent[0], sent_at=now
                )
                return
        held = HeldReplies(rt.jobs)
        run_id = start_survey_by_sms(
            phone,
            flow,
            replace(rt.services, jobs=held),
            key=key,
            language=contact.language,
            reminder_count=campaign.reminder_count,
            reminder_interval=timedelta(hours=campaign.reminder_interval_hours),
            expiry=timedelta(hours=campaign.expiry_hours),
            again=again,
        )
        held.send_all()  # the run is stored: its first question goes out now, paced at AT's door
        if run_id is None:
            marks.add(contact.id, completed_status(rt, key))
            return
        message_id = reply_message_id(f"{key}-1")
    elif is_repeating(campaign):
        message_id = reply_message_id(key)
        if contact.status is ContactStatus.SENDING and invitation_went(rt, message_id):
            # Sent by a fan-out that died: the household may have answered this wave since.
            now = ctx.clock.now()
            marks.add(contact.id, ContactStatus.SENT, message_id=message_id, sent_at=now)
            return
        # Whatever the household completed before, this wave asks it again.
        rt.store.invite_again(
            campaign.flow, contact.respondent_id, timedelta(hours=campaign.expiry_hours)
        )
        send_now(_invitation(rt, campaign, contact, key, "invitation"))
    else:
        if rt.store.has_completed(campaign.flow, contact.respondent_id):
            marks.add(contact.id, completed_status(rt, key))
            return
        send_now(_invitation(rt, campaign, contact, key, "invitation"))
        message_id = reply_message_id(key)
    now = ctx.clock.now()
    marks.add(contact.id, ContactStatus.SENT, run_id=run_id, message_id=message_id, sent_at=now)
    if campaign.channel is CampaignChannel.USSD and campaign.reminder_count > 0:
        at = next_send_time(campaign, now + timedelta(hours=campaign.reminder_interval_hours))
        campaign_jobs(rt).remind_invitation(contact.id, 1, at)


def _invitation(
    rt: Runtime, campaign: Campaign, contact: CampaignContact, key: str, kind: str
) -> Reply:
    """The SMS asking a contact to dial the USSD code, in their language."""
    flow = rt.flows[campaign.flow]
    language = rt.store.language(contact.respondent_id) or contact.language
    body = to_gsm7(invitation_text(flow, language or flow.default_language, rt.settings.ussd_code))
    return Reply(
        key=key,
        respondent=contact.respondent_id,
        phone_token=contact.phone_encrypted,
        kind=kind,
        body=body,
    )


def remind_invitation(contact_id: int, number: int) -> None:
    """Invite a USSD contact again unless they completed the survey, opted out, or the campaign
    was cancelled; then plan the next reminder."""
    ctx = current()
    rt = ctx.runtime
    with rt.sessions() as session:
        contact = session.get(CampaignContact, contact_id)
        if contact is None or contact.status is not ContactStatus.SENT:
            return  # erased since
        campaign = session.get(Campaign, contact.campaign_id)
        if campaign is None:
            return
        session.expunge_all()
    if campaign.status is CampaignStatus.CANCELLED or number > campaign.reminder_count:
        return
    respondent = contact.respondent_id
    if rt.store.is_opted_out(respondent) or rt.store.has_completed(campaign.flow, respondent):
        return
    try:
        rt.cipher.decrypt(contact.phone_encrypted)
    except InvalidToken:
        return  # the number was purged (retention) or its key retired: nobody to remind
    key = f"{reply_key(campaign.id, contact_id)}-r{number}"
    reply = _invitation(rt, campaign, contact, key, "reminder")
    record_reply(reply.key, reply.respondent, reply.phone_token, reply.kind, reply.body)
    if number < campaign.reminder_count:
        later = ctx.clock.now() + timedelta(hours=campaign.reminder_interval_hours)
        campaign_jobs(rt).remind_invitation(contact_id, number + 1, next_send_time(campaign, later))


def stop_reminders(campaign_id: str) -> None:
    """After a cancel: the campaign's runs that are still open get no more reminders.

    Each run keeps going if the household answers; only the reminders stop. (USSD invitation
    reminders see the cancel themselves.)
    """
    rt = current().runtime
    after = 0
    while True:
        with rt.sessions() as session:
            rows = session.execute(
                select(CampaignContact.id, CampaignContact.respondent_id, CampaignContact.run_id)
                .where(
                    CampaignContact.campaign_id == campaign_id,
                    CampaignContact.run_id.is_not(None),
                    CampaignContact.id > after,
                )
                .order_by(CampaignContact.id)
                .limit(STOP_CHUNK)
            ).all()
        if not rows:
            return
        for contact_id, respondent, run_id in rows:
            after = contact_id
            if run_id is None:
                continue
            with rt.store.lock(respondent):
                record = rt.store.load_run(run_id)
                if record is not None and record.state.is_active and record.reminder_count != 0:
                    rt.store.save_run(replace(record, reminder_count=0))
