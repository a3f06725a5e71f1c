"""Housekeeping jobs that plan their own next run.

- **The daily purge**: stored numbers and message bodies past their retention period go.
- **The message sweep**, every few minutes: a message left behind by a worker that died at
  the wrong moment is sent, or marked for a check, instead of waiting forever. RQ itself
  retries the jobs a dead worker abandoned; the sweep catches the rest: a confirmation stored
  by a job that died before queueing its send, a send claimed by a job that is gone, a send
  whose retries have run out. It also gives a running campaign whose fan-out job is gone (its
  retries ran out while the database was away) a new one.
- **The wave opener**, every minute: a repeating campaign's next wave opens when due
  (``gateway.campaigns.services.open_due_waves``, once per wave however many workers run it).
- **The report reminder**, every hour while ``GATEWAY_REPORT_REMINDER_DAYS`` is set: an
  approved enumerator with no report for that many days is texted a reminder
  (``gateway.enumerators.report_reminders``).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, time, timedelta

from rq import Queue
from rq.job import Job, JobStatus
from sqlalchemy import select

from gateway.campaigns.services import campaign_jobs, open_due_waves
from gateway.core import job_names
from gateway.core.clock import utc_now
from gateway.core.queue import SEND_RETRY
from gateway.enumerators.registrations import ENUMERATOR_FLOW
from gateway.enumerators.report_reminders import remind_quiet_enumerators as quiet_reminders
from gateway.messaging.models import Message, MessageStatus
from gateway.staff.audit import WORKER_ACTOR
from gateway.surveys.services import purge_expired
from workers.context import current

log = logging.getLogger(__name__)

PURGE_JOB_ID = "purge-daily"
PURGE_AT = time(2, 0)  # UTC: a quiet hour in West Africa
SWEEP_JOB_ID = "sweep-messages"
SWEEP_EVERY = timedelta(minutes=5)
WAVES_JOB_ID = "open-waves"
# Waves are days apart: a minute late is on time, and the job costs one indexed query.
WAVES_EVERY = timedelta(minutes=1)
REPORT_REMINDERS_JOB_ID = "remind-quiet-enumerators"
# Reminders are days apart: an hour late is on time.
REPORT_REMINDERS_EVERY = timedelta(hours=1)
# A message untouched this long is not on its way: every live send moves it within seconds.
STUCK_AFTER = timedelta(minutes=15)
# Longer than all of a send's retries together: past this, a failing message has been given up.
GIVEN_UP_AFTER = timedelta(seconds=sum(SEND_RETRY.intervals)) + STUCK_AFTER
SWEEP_BATCH = 500
GAVE_UP = "not sent: AT could not be reached after {attempts} attempt(s); last error: {error}"
# The next run is planned under the running job's own id, so when the run ends RQ stores its
# outcome over the planned job and gives the key the result's time to live (500 s by default,
# a year for a failure): the planned run would vanish. Kept instead; the one key is reused.
KEEP_PLANNED = -1
_LIVE_JOB = (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.STARTED, JobStatus.DEFERRED)


def daily_purge() -> None:
    """Plan tomorrow's run, then purge once.

    Planned first: a purge that fails (the database away at 02:00) is recorded by RQ as a
    failure, and retention purges still go on the next night.
    """
    rt = current().runtime
    schedule_daily_purge(rt.queue, after=utc_now())
    report = purge_expired(rt, WORKER_ACTOR)
    log.info("retention purge: %s", "; ".join(report.lines()))


def schedule_daily_purge(queue: Queue, *, after: datetime) -> datetime:
    """Plan the purge at the next 02:00 UTC (one job, whoever plans it)."""
    moment = datetime.combine(after.date(), PURGE_AT, tzinfo=UTC)
    if moment <= after:
        moment += timedelta(days=1)
    return _plan(queue, moment, job_names.DAILY_PURGE, PURGE_JOB_ID, "daily purge")


def sweep_messages() -> None:
    """Send, or settle, the messages no job will move any more; then plan the next sweep."""
    rt = current().runtime
    now = utc_now()
    # Planned first, for the same reason as the purge: a failed sweep must not be the last.
    schedule_sweep(rt.queue, after=now)
    requeued = given_up = 0
    with rt.sessions() as session:
        stuck = session.execute(
            select(Message.id, Message.status, Message.attempts, Message.updated_at)
            .where(
                Message.status.in_((MessageStatus.QUEUED, MessageStatus.SENDING)),
                Message.updated_at < now - STUCK_AFTER,
            )
            .order_by(Message.updated_at)
            .limit(SWEEP_BATCH)
        ).all()
    for message_id, status, attempts, updated_at in stuck:
        job = rt.queue.fetch_job(f"send-{message_id}")
        if job is not None and job.get_status() in _LIVE_JOB:
            continue  # RQ still has it, perhaps waiting out a retry's backoff
        if status is MessageStatus.QUEUED and attempts > 0:
            if updated_at >= now - GIVEN_UP_AFTER:
                continue  # between retries of the job that sent it from another key
            given_up += _give_up(message_id)
            continue
        # Never tried (its send was never queued), or claimed by a job that is gone: the
        # send job sends the one, and marks the other for a check.
        rt.jobs.send_message(message_id)
        requeued += 1
    if requeued or given_up:
        log.warning("message sweep: %d re-queued, %d given up", requeued, given_up)
    with rt.sessions() as session:
        # A campaign whose chain still goes on has a job marked as waiting, or the next one
        # finds this one marked: one chain goes on either way (see CampaignJobs.fan_out).
        resumed = campaign_jobs(rt).resume_running(session)
    if resumed:
        log.warning("message sweep: fan-out resumed for %d running campaign(s)", len(resumed))


def open_waves() -> None:
    """Open the waves of repeating campaigns that are due; then plan the next look."""
    ctx = current()
    rt, now = ctx.runtime, ctx.clock.now()
    schedule_waves(rt.queue, after=now)  # first, as the sweep: a failed run is not the last
    for campaign_id, number in open_due_waves(rt, WORKER_ACTOR, now):
        log.info("campaign %s: wave %d opened", campaign_id, number)


def schedule_waves(queue: Queue, *, after: datetime) -> datetime:
    """Plan the next look for waves due (one job, whoever plans it)."""
    return _plan(queue, after + WAVES_EVERY, job_names.OPEN_WAVES, WAVES_JOB_ID, "open waves")


def remind_quiet_enumerators() -> None:
    """Text the enumerators quiet for too long; then plan the next look, while the setting
    is on (turned off, this run is the last)."""
    ctx = current()
    rt, now = ctx.runtime, ctx.clock.now()
    days = rt.settings.report_reminder_days
    if days <= 0:
        return
    schedule_report_reminders(rt.queue, after=now)  # first, as the sweep
    with rt.sessions.begin() as session:
        made = quiet_reminders(
            session, now=now, days=days, cipher=rt.cipher, flow=rt.flows[ENUMERATOR_FLOW]
        )
    if made:
        rt.jobs.send_messages(made)
        log.info("report reminders: %d enumerator(s) texted", len(made))


def schedule_report_reminders(queue: Queue, *, after: datetime) -> datetime:
    """Plan the next look for quiet enumerators (one job, whoever plans it)."""
    moment = after + REPORT_REMINDERS_EVERY
    name = job_names.REMIND_QUIET_ENUMERATORS
    return _plan(queue, moment, name, REPORT_REMINDERS_JOB_ID, "report reminders")


def _give_up(message_id: str) -> int:
    with current().runtime.sessions.begin() as session:
        message = session.get(Message, message_id, with_for_update=True)
        if message is None or message.status is not MessageStatus.QUEUED:
            return 0
        message.status = MessageStatus.FAILED
        message.error = GAVE_UP.format(attempts=message.attempts, error=message.error or "")[:500]
        return 1


def schedule_sweep(queue: Queue, *, after: datetime) -> datetime:
    """Plan the next message sweep (one job, whoever plans it)."""
    moment = after + SWEEP_EVERY
    return _plan(queue, moment, job_names.SWEEP_MESSAGES, SWEEP_JOB_ID, "sweep")


def _plan(queue: Queue, moment: datetime, job_name: str, job_id: str, description: str) -> datetime:
    """Plan the one job of this id at the moment, kept until then."""
    job = queue.enqueue_at(
        moment, job_name, job_id=job_id, description=description, result_ttl=KEEP_PLANNED
    )
    _keep(queue, job)
    return moment


def _keep(queue: Queue, job: Job) -> None:
    """Take back any time to live a failed run left on the planned job's key."""
    queue.connection.persist(job.key)
