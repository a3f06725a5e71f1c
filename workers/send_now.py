"""Replies sent by the job that makes them, not by a job queued per message.

A campaign's fan-out used to queue one reply job per invitation. With one worker, the fan-out
and those jobs took turns, each paced on its own (the fan-out by the campaign's throttle, the
sends at AT's door), so AT saw about half the throttle; and each job cost an enqueue, a dequeue
and a number kept in Redis for it. The fan-out now records each invitation in the outbox and
sends it at once, paced at AT's door only, so AT sees the throttle itself.

The guarantees are the outbox's (``workers.sms.record_reply``): a reply is recorded once under
its key, and a message already sent or claimed is not sent again. A send AT refused for a
while goes back to the queue with a retry job of its own; the fan-out goes on.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from gateway.core.errors import TransientSendError
from handlers.ports import JobQueue, Reply
from workers.context import current
from workers.sms import record_reply, reply_message_id

log = logging.getLogger(__name__)

# The first retry of a send AT refused for a while, as the queued replies' first retry.
RETRY_AFTER = timedelta(seconds=10)


def send_now(reply: Reply) -> None:
    """Record ``reply`` in the outbox and send it now; a transient refusal is retried later."""
    try:
        record_reply(reply.key, reply.respondent, reply.phone_token, reply.kind, reply.body)
    except TransientSendError as exc:
        # The message is back in the outbox as queued: a job of its own sends it later.
        message_id = reply_message_id(reply.key)
        log.warning("message %s: AT refused it for now (%s); retried later", message_id, exc)
        rt = current().runtime
        later = rt.services.now() + RETRY_AFTER
        rt.jobs.send_message_at(message_id, later, f"send-{message_id}-{uuid.uuid4().hex}")


class HeldReplies:
    """The worker's job queue, except that SMS replies are held for ``send_all``.

    Given to a handler that runs under a respondent's lock: its replies go out once the lock
    is let go, so the run they belong to is in Redis before the household can answer.
    """

    def __init__(self, jobs: JobQueue) -> None:
        self.jobs = jobs
        self.held: list[Reply] = []

    def send_all(self) -> None:
        """Send the replies held, in order."""
        held, self.held = self.held, []
        for reply in held:
            send_now(reply)

    def send_sms(self, reply: Reply) -> None:
        self.held.append(reply)

    def sync_run(self, run_id: str, seq: int) -> None:
        self.jobs.sync_run(run_id, seq)

    def remind(self, run_id: str, seq: int, number: int, delay: timedelta) -> None:
        self.jobs.remind(run_id, seq, number, delay)

    def erase_respondent(self, respondent: str, phone_token: str, body: str) -> None:
        self.jobs.erase_respondent(respondent, phone_token, body)

    def record_opt_out(self, respondent: str, opted_out: bool, at: datetime) -> None:
        self.jobs.record_opt_out(respondent, opted_out, at)

    def withdraw_report(
        self, reply: Reply, code: str, typed: str, language: str, at: datetime
    ) -> None:
        self.jobs.withdraw_report(reply, code, typed, language, at)
