"""The daily purge: stored numbers and message bodies past their retention period go."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, time, timedelta

from rq import Queue

from gateway.audit import audit
from gateway.retention import purge
from gateway.runtime import utc_now
from workers.context import current

log = logging.getLogger(__name__)

PURGE_JOB_ID = "purge-daily"
PURGE_AT = time(2, 0)  # UTC: a quiet hour in West Africa


def daily_purge() -> None:
    """Purge once, then plan the next run for tomorrow."""
    rt = current().runtime
    with rt.sessions.begin() as session:
        report = purge(session, utc_now(), rt.settings.retention_days)
        audit(session, "worker", "purge", "retention", None, "; ".join(report.lines()))
    log.info("retention purge: %s", "; ".join(report.lines()))
    schedule_daily_purge(rt.queue, after=utc_now())


def schedule_daily_purge(queue: Queue, *, after: datetime) -> datetime:
    """Plan the purge at the next 02:00 UTC (one job, whoever plans it)."""
    moment = datetime.combine(after.date(), PURGE_AT, tzinfo=UTC)
    if moment <= after:
        moment += timedelta(days=1)
    queue.enqueue_at(
        moment, "workers.maintenance.daily_purge", job_id=PURGE_JOB_ID, description="daily purge"
    )
    return moment
