"""Every kind of job goes back to RQ's retries when it fails (a database blip, say)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rq.job import Job
from rq.registry import ScheduledJobRegistry

from gateway.campaigns.queue import CampaignJobs
from gateway.core.runtime import Runtime
from handlers.ports import Reply


def test_every_kind_of_job_has_retries(runtime: Runtime) -> None:
    jobs = runtime.jobs
    campaigns = CampaignJobs(runtime.queue)
    now = datetime.now(UTC)
    jobs.sync_run("run-1", 1)
    jobs.send_sms(Reply("k", "respondent", "token", "confirmation", "Merci"))
    jobs.remind("run-1", 1, 1, timedelta(hours=1))
    jobs.erase_respondent("respondent", "token", "Effacé")
    jobs.offer_sms("run-1")
    jobs.record_opt_out("respondent", True, now)
    jobs.send_message("message-1")
    jobs.record_delivery("ATXid_1", "Success", None, None, now.isoformat())
    campaigns.fan_out("campaign-1")
    campaigns.remind_invitation(1, 1, now + timedelta(hours=1))
    jobs.send_due_reminders()

    ids = runtime.queue.get_job_ids() + ScheduledJobRegistry(queue=runtime.queue).get_job_ids()
    without = [
        job.func_name
        for job in Job.fetch_many(ids, connection=runtime.redis)
        if job is not None and not job.retries_left
    ]
    # sync_run queues one drain job, remind none (the reminder waits in live state), and
    # send_due_reminders one.
    assert len(ids) == 10
    assert without == []
