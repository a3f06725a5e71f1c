"""Putting back what Redis may have lost: for a worker starting, or finding Redis emptied.

Redis is live state and may come back empty (a new server, a restart without its append-only
file, FLUSHALL). What the database can rebuild is rebuilt here: the copy of the protective
facts (opt-outs, completions, enumerator approvals), the housekeeping jobs (the wave opener
and, when it is on, the report reminder among them), a fan-out job for each running campaign,
and the job of each list import still waiting. What lived only in Redis is gone: USSD
sessions (the caller dials again), answers of runs not yet stored, queued replies (see the
README's table).
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from gateway.campaigns.models import CampaignImport, ImportStatus
from gateway.campaigns.services import campaign_jobs
from gateway.core.clock import utc_now
from gateway.core.runtime import Runtime
from gateway.surveys.live_facts import rebuild
from workers.maintenance import (
    PURGE_JOB_ID,
    REPORT_REMINDERS_JOB_ID,
    SWEEP_JOB_ID,
    WAVES_JOB_ID,
    schedule_daily_purge,
    schedule_report_reminders,
    schedule_sweep,
    schedule_waves,
)

log = logging.getLogger(__name__)


def restore_live_state(runtime: Runtime) -> None:
    """Rebuild from the database whatever live state is missing; safe to call at any time."""
    copied = rebuild(runtime.redis, runtime.sessions)
    if copied is not None:
        log.info("protective facts copied back into Redis: %d", copied)
    now = utc_now()
    # Only when missing: planning them again would put off a sweep that is due.
    if runtime.queue.fetch_job(PURGE_JOB_ID) is None:
        schedule_daily_purge(runtime.queue, after=now)
    if runtime.queue.fetch_job(SWEEP_JOB_ID) is None:
        schedule_sweep(runtime.queue, after=now)
    if runtime.queue.fetch_job(WAVES_JOB_ID) is None:
        schedule_waves(runtime.queue, after=now)
    reminding = runtime.settings.report_reminder_days > 0
    if reminding and runtime.queue.fetch_job(REPORT_REMINDERS_JOB_ID) is None:
        schedule_report_reminders(runtime.queue, after=now)
    jobs = campaign_jobs(runtime)
    with runtime.sessions() as session:
        resumed = jobs.resume_running(session)
        pending = session.scalars(
            select(CampaignImport.id).where(
                CampaignImport.status.in_((ImportStatus.QUEUED, ImportStatus.RUNNING))
            )
        ).all()
    if resumed:
        log.info("fan-out resumed for %d running campaign(s)", len(resumed))
    revived = [import_id for import_id in pending if jobs.revive_import(import_id)]
    if revived:
        log.info("list imports queued again: %d", len(revived))
