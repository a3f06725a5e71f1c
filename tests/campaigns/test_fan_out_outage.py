"""A campaign's fan-out is not lost to a database outage: RQ retries it, the sweep resumes it."""

from __future__ import annotations

from pathlib import Path

import redis
from rq import SimpleWorker
from rq.registry import FailedJobRegistry, ScheduledJobRegistry

from gateway.campaigns.lifecycle import start_campaign
from gateway.campaigns.queue import pending_key
from gateway.core.runtime import Runtime
from gateway.core.settings import Settings
from gateway.messaging.sender import ConsoleSender
from tests.campaigns.test_campaigns import (
    MORNING,
    FakeClock,
    change,
    invitations,
    new_campaign,
    numbers,
    work,
)
from workers.context import WorkerContext, install

UNREACHABLE_DATABASE = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1"


def test_a_fan_out_failing_on_the_database_waits_for_a_retry(
    runtime: Runtime, tmp_path: Path, redis_client: redis.Redis
) -> None:
    campaign_id, _ = new_campaign(runtime, numbers(3))
    change(runtime, start_campaign, campaign_id)
    cut_off = Runtime.build(
        Settings.from_env(
            {"GATEWAY_VAR_DIR": str(tmp_path / "cut"), "DATABASE_URL": UNREACHABLE_DATABASE}
        ),
        client=redis_client,
    )
    install(WorkerContext(runtime=cut_off, sender=ConsoleSender()))

    SimpleWorker([cut_off.queue], connection=redis_client).work(burst=True)

    retried = ScheduledJobRegistry(queue=runtime.queue).get_job_ids()
    assert [job_id for job_id in retried if job_id.startswith("fan-out-")]
    assert FailedJobRegistry(queue=runtime.queue).get_job_ids() == []


def test_the_sweep_resumes_a_running_campaign_whose_fan_out_is_gone(runtime: Runtime) -> None:
    campaign_id, _ = new_campaign(runtime, numbers(4))
    change(runtime, start_campaign, campaign_id)
    # The fan-out's retries ran out while the database was away: no job is left for it.
    runtime.queue.empty()
    runtime.redis.delete(pending_key(campaign_id))

    runtime.queue.enqueue("workers.maintenance.sweep_messages")
    work(runtime, FakeClock(MORNING))

    sent = invitations(runtime)
    assert len(sent) == 4 and set(sent.values()) == {1}
