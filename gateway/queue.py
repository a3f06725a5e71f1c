"""The RQ queue the web process hands work to, and the retry policy of each kind of job."""

from __future__ import annotations

import redis
from rq import Queue, Retry

QUEUE_NAME = "gateway"

# Backoff for work that waits on the database or on AT: quick first retries, then patient ones.
SYNC_RETRY = Retry(max=5, interval=[2, 10, 60, 300, 900])
SEND_RETRY = Retry(max=6, interval=[10, 30, 120, 600, 1800, 3600])


def make_queue(client: redis.Redis) -> Queue:
    """The gateway's job queue on this Redis."""
    return Queue(QUEUE_NAME, connection=client)


class RqJobQueue:
    """The handlers' JobQueue, on RQ."""

    def __init__(self, queue: Queue) -> None:
        self.queue = queue

    def sync_run(self, run_id: str, seq: int) -> None:
        """Ask a worker to copy the run into the database (and confirm it, once ended)."""
        # One job id per run step: AT re-sending a step cannot queue the same work twice.
        self.queue.enqueue(
            "workers.jobs.sync_run",
            run_id,
            seq,
            job_id=f"sync-{run_id}-{seq}",
            retry=SYNC_RETRY,
            description=f"sync run {run_id}",
        )

    def send_message(self, message_id: str) -> None:
        """Ask a worker to send one outbound message."""
        self.queue.enqueue(
            "workers.jobs.send_message",
            message_id,
            job_id=f"send-{message_id}",
            retry=SEND_RETRY,
            description=f"send message {message_id}",
        )
