"""The housekeeping jobs keep their next run planned whatever happens to this one."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import redis
from rq import SimpleWorker
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry

from gateway.core.clock import utc_now
from gateway.core.runtime import Runtime
from gateway.core.settings import Settings
from gateway.messaging.sender import ConsoleSender
from workers import maintenance
from workers.context import WorkerContext, install

UNREACHABLE_DATABASE = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1"


def _planned(runtime: Runtime, job_id: str) -> Job:
    """The planned job, asserting it is due and will still be there when it is."""
    assert ScheduledJobRegistry(queue=runtime.queue).get_job_ids() == [job_id]
    ttl = runtime.redis.ttl(f"rq:job:{job_id}")
    assert ttl == -1 or ttl > 2 * 24 * 3600  # still there when it is due
    return Job.fetch(job_id, connection=runtime.redis)


def test_a_purge_failing_on_the_database_still_plans_tomorrows(
    tmp_path: Path, redis_client: redis.Redis
) -> None:
    settings = Settings.from_env(
        {"GATEWAY_VAR_DIR": str(tmp_path / "var"), "DATABASE_URL": UNREACHABLE_DATABASE}
    )
    runtime = Runtime.build(settings, client=redis_client)
    install(WorkerContext(runtime=runtime, sender=ConsoleSender()))
    runtime.queue.enqueue("workers.maintenance.daily_purge", job_id=maintenance.PURGE_JOB_ID)

    SimpleWorker([runtime.queue], connection=redis_client).work(burst=True)

    # RQ saw the failure (so `rq info` and the failed registry show it)...
    assert maintenance.PURGE_JOB_ID in FailedJobRegistry(queue=runtime.queue).get_job_ids()
    # ...and the purge is planned for the next 02:00 all the same.
    job = _planned(runtime, maintenance.PURGE_JOB_ID)
    assert job.func_name == "workers.maintenance.daily_purge"
    due = ScheduledJobRegistry(queue=runtime.queue).get_scheduled_time(maintenance.PURGE_JOB_ID)
    assert (due.hour, due.minute) == (2, 0)


def _run_due_jobs(runtime: Runtime) -> None:
    """What a worker does when planned jobs fall due: its scheduler queues them, it runs them."""
    install(WorkerContext(runtime=runtime, sender=ConsoleSender()))
    SimpleWorker([runtime.queue], connection=runtime.redis).work(burst=True, with_scheduler=True)


def test_a_planned_sweep_leaves_the_next_one_planned_when_it_ran(runtime: Runtime) -> None:
    maintenance.schedule_sweep(runtime.queue, after=utc_now() - timedelta(minutes=6))

    _run_due_jobs(runtime)

    assert _planned(runtime, maintenance.SWEEP_JOB_ID).func_name == (
        "workers.maintenance.sweep_messages"
    )


def test_a_planned_purge_leaves_the_next_one_planned_when_it_ran(runtime: Runtime) -> None:
    maintenance.schedule_daily_purge(runtime.queue, after=utc_now() - timedelta(days=1))

    _run_due_jobs(runtime)

    assert _planned(runtime, maintenance.PURGE_JOB_ID).func_name == (
        "workers.maintenance.daily_purge"
    )
