"""The campaign work handed to the workers: the fan-out, the reminders of USSD invitations,
and the import of uploaded lists.

At most one fan-out job waits per campaign: a Redis key holds the id of the job queued, until
that job starts. Starting a campaign twice, resuming it while a job waits for the morning, or a
job handing on to the next batch thus never leaves two chains of jobs working one campaign: a
job that is not the one marked (an RQ retry, say) cannot queue a successor while another
waits. (Two running at once would still not send twice: see ``workers.campaigns``.)
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from rq import Queue
from rq.job import JobStatus
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.campaigns.models import Campaign, CampaignStatus
from gateway.core import job_names
from gateway.core.clock import utc_now
from gateway.core.queue import SYNC_RETRY
from gateway.core.redis_scripts import delete_if_holds

# A pending mark outlives the time its job waits by this much, in case the job is lost.
PENDING_MARGIN = timedelta(minutes=10)
# A fan-out job stops handing out invitations after FAN_OUT_BUDGET_S seconds (see
# workers.campaigns); RQ may give it this long before calling it stuck.
FAN_OUT_TIMEOUT_S = 300
# 500,000 rows take about 30 s on a small machine; a busy one is given far longer.
IMPORT_TIMEOUT_S = 1800


# Job statuses after which an import's job does nothing more.
_GONE = (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED, JobStatus.FINISHED, None)


def _import_job_id(import_id: str) -> str:
    return f"campaign-import-{import_id}"


def hold_key(campaign_id: str) -> str:
    """The Redis lock a fan-out job holds on its campaign while it sends."""
    return f"sg:campaign:{campaign_id}:fan-out"


def pending_key(campaign_id: str) -> str:
    """The Redis key holding the id of the campaign's fan-out job queued and not yet started."""
    return f"sg:campaign:{campaign_id}:pending"


class CampaignJobs:
    """Queues campaign jobs on the gateway's RQ queue."""

    def __init__(self, queue: Queue) -> None:
        self.queue = queue

    def after_change(self, campaign: Campaign) -> None:
        """Act on a committed state change: a running campaign gets its fan-out going, a
        cancelled one has its runs' reminders stopped."""
        if campaign.status is CampaignStatus.RUNNING:
            self.fan_out(campaign.id)
        elif campaign.status is CampaignStatus.CANCELLED:
            self.queue.enqueue(
                job_names.STOP_REMINDERS,
                campaign.id,
                job_id=f"campaign-stop-{campaign.id}",
                retry=SYNC_RETRY,
                description=f"stop the reminders of campaign {campaign.id}",
            )

    def resume_running(self, session: Session) -> list[str]:
        """Give each running campaign a fan-out job, unless one already waits or one is
        sending (it holds the campaign); the ids of those that got one. For a worker starting
        up, and for every worker's maintenance.

        A worker killed mid-batch leaves its campaign with no job queued until RQ hands the
        abandoned job back, once that job's timeout has passed (minutes); a worker coming
        back picks the campaign up at once instead. A chain of jobs still going is not
        doubled: the new job or the chain's next one finds the other marked as waiting, and
        one chain goes on.
        """
        running = session.scalars(
            select(Campaign.id).where(Campaign.status == CampaignStatus.RUNNING)
        ).all()
        connection = self.queue.connection
        return [
            campaign_id
            for campaign_id in running
            if not connection.exists(hold_key(campaign_id)) and self.fan_out(campaign_id)
        ]

    def fan_out(self, campaign_id: str, at: datetime | None = None) -> bool:
        """Queue the campaign's next batch of invitations, now or at ``at``.

        Returns False, queueing nothing, when a fan-out job of the campaign already waits.
        """
        now = utc_now()
        wait = max(at - now, timedelta(0)) if at is not None else timedelta(0)
        ttl = int((wait + PENDING_MARGIN).total_seconds())
        job_id = f"fan-out-{campaign_id}-{uuid.uuid4().hex[:12]}"
        if not self.queue.connection.set(pending_key(campaign_id), job_id, nx=True, ex=ttl):
            return False
        options = {
            "job_id": job_id,
            "retry": SYNC_RETRY,
            "job_timeout": FAN_OUT_TIMEOUT_S,
            "description": f"fan out campaign {campaign_id}",
        }
        try:
            if at is None:
                self.queue.enqueue(job_names.FAN_OUT, campaign_id, **options)
            else:
                self.queue.enqueue_at(at, job_names.FAN_OUT, campaign_id, **options)
        except BaseException:
            # Not queued after all: the mark must not hold off the next attempt.
            self.queue.connection.delete(pending_key(campaign_id))
            raise
        return True

    def started(self, campaign_id: str, job_id: str) -> None:
        """A fan-out job has started: if it is the one marked as waiting, it waits no more."""
        # Only if it is the one marked: a job unmarks itself, never the job queued after it.
        delete_if_holds(self.queue.connection, pending_key(campaign_id), job_id)

    def run_import(self, import_id: str) -> None:
        """Ask a worker to import an uploaded list (stored and committed before this)."""
        # One job id per import: queueing it again while it waits adds no second job.
        self.queue.enqueue(
            job_names.RUN_IMPORT,
            import_id,
            job_id=_import_job_id(import_id),
            retry=SYNC_RETRY,
            job_timeout=IMPORT_TIMEOUT_S,
            description=f"import a list, import {import_id}",
        )

    def revive_import(self, import_id: str) -> bool:
        """Queue a pending import again if its job is gone (Redis was lost or flushed) or gave
        up (its retries spent while the database was away); whether it was queued.

        Safe whenever: an import already done is left as it is (``run_import``).
        """
        job = self.queue.fetch_job(_import_job_id(import_id))
        if job is not None and job.get_status() not in _GONE:
            return False
        self.run_import(import_id)
        return True

    def remind_invitation(self, contact_id: int, number: int, at: datetime) -> None:
        """Ask a worker to invite a USSD contact again at ``at`` unless they completed."""
        self.queue.enqueue_at(
            at,
            job_names.REMIND_INVITATION,
            contact_id,
            number,
            job_id=f"campaign-remind-{contact_id}-{number}",
            retry=SYNC_RETRY,  # a database blip at its hour must not drop the reminder
            description=f"invitation reminder {number} for contact {contact_id}",
        )
