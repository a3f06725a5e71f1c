"""The RQ queue the web process hands work to, and the retry policy of each kind of job.

Jobs carry ids and texts, never a number: RQ keeps a job's arguments in Redis for as long as
the job waits, is retried, or lies among the failed ones, where neither a key rotation nor an
erasure would find them. A reply's number waits in the live store instead (``keep_phone``),
which both reach.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

import redis
from rq import Queue, Retry

from gateway.core import job_names
from handlers.ports import Reply

QUEUE_NAME = "gateway"
# Jobs keep no result once done (``result_ttl=0``): the database is the record of what they did,
# and a finished job kept for RQ's default 500 s costs Redis some 6 KB (its hash and result
# stream), more than a household's whole live state.

# Backoff for work that waits on the database or on AT: quick first retries, then patient ones.
SYNC_RETRY = Retry(max=5, interval=[2, 10, 60, 300, 900])
ERASURE_FAILURE_TTL_S = 24 * 3600
SEND_RETRY = Retry(max=6, interval=[10, 30, 120, 600, 1800, 3600])
# A reply that failed for good is kept this long for a look, then goes (RQ's default: a year).
REPLY_FAILURE_TTL_S = 7 * 24 * 3600


# A drain or reminders job that failed is looked at within hours; the work itself stays in
# live state and the next one does it.
HOUSEKEEPING_FAILURE_TTL_S = 24 * 3600


class PhoneBook(Protocol):
    """The live state jobs lean on: where a reply's number waits (encrypted) outside the job,
    and the work waiting for workers (runs to store, reminders)."""

    def keep_phone(self, respondent: str, token: str) -> None:
        """Keep the encrypted number replies to ``respondent`` go to."""
        ...

    def mark_dirty(self, run_id: str, ask_drain: Callable[[], None]) -> None:
        """Note that the run changed; ``ask_drain`` when no drain is due yet."""
        ...

    def schedule_reminder(self, run_id: str, seq: int, number: int, delay: timedelta) -> None:
        """Plan the run's next reminder, replacing the one pending."""
        ...


def make_queue(client: redis.Redis) -> Queue:
    """The gateway's job queue on this Redis."""
    return Queue(QUEUE_NAME, connection=client)


class RqJobQueue:
    """The handlers' JobQueue, on RQ."""

    def __init__(
        self, queue: Queue, phones: PhoneBook, *, drain_delay: timedelta = timedelta(0)
    ) -> None:
        self.queue = queue
        self.phones = phones
        self.drain_delay = drain_delay

    def sync_run(self, run_id: str, seq: int) -> None:
        """Ask a worker to copy the run into the database (and confirm it, once ended).

        Not a job per step: the run joins the set of changed runs, and one drain job stores
        them all in batches (``workers.storage``); it is queued only when none is due.
        """
        self.phones.mark_dirty(run_id, self.drain)

    def drain(self) -> None:
        """Queue a job storing every changed run, after ``drain_delay``.

        The delay gathers the changes of a second into one job and one transaction: stored
        one by one, each step would cost the web process an enqueue and the worker a commit.
        """
        self._housekeeping(
            job_names.DRAIN_RUNS, "drain", "store the runs that changed", self.drain_delay
        )

    def send_due_reminders(self) -> None:
        """Queue a job sending the reminders that are due."""
        self._housekeeping(job_names.SEND_DUE_REMINDERS, "reminders", "send the reminders due")

    def _housekeeping(
        self, job_name: str, id_prefix: str, description: str, delay: timedelta = timedelta(0)
    ) -> None:
        options: dict[str, Any] = {
            "job_id": f"{id_prefix}-{uuid.uuid4().hex}",
            "retry": SYNC_RETRY,
            "result_ttl": 0,
            "failure_ttl": HOUSEKEEPING_FAILURE_TTL_S,
            "description": description,
        }
        if delay:
            self.queue.enqueue_in(delay, job_name, **options)
        else:
            self.queue.enqueue(job_name, **options)

    def send_sms(self, reply: Reply) -> None:
        """Ask a worker to send one SMS (recorded in the outbox first)."""
        self.phones.keep_phone(reply.respondent, reply.phone_token)
        self.queue.enqueue(
            job_names.SEND_REPLY,
            reply.key,
            reply.respondent,
            reply.kind,
            reply.body,
            job_id=f"reply-{reply.key}",
            retry=SEND_RETRY,
            result_ttl=0,
            failure_ttl=REPLY_FAILURE_TTL_S,
            description=f"send {reply.kind} reply",
        )

    def remind(self, run_id: str, seq: int, number: int, delay: timedelta) -> None:
        """Remind the respondent after ``delay`` if step ``seq`` is still unanswered.

        One pending reminder per run: a newer question's replaces it. Workers send those due
        (``workers.reminders``).
        """
        self.phones.schedule_reminder(run_id, seq, number, delay)

    def erase_respondent(self, respondent: str, phone_token: str, body: str) -> None:
        """Ask a worker to erase the respondent's data, then send ``body`` (not recorded)."""
        # The number the confirmation goes to waits with the replies' numbers; the job drops
        # it once done, so replies still queued behind it have nobody to go to.
        self.phones.keep_phone(respondent, phone_token)
        self.queue.enqueue(
            job_names.ERASE_RESPONDENT,
            respondent,
            body,
            retry=SEND_RETRY,
            # Nothing of the person is in the job, but its pseudonym: gone once done, and a
            # failed one after a day.
            result_ttl=0,
            failure_ttl=ERASURE_FAILURE_TTL_S,
            description="erase a respondent",
        )

    def offer_sms(self, run_id: str) -> None:
        """Ask a worker to offer the rest of a dropped USSD survey by SMS."""
        self.queue.enqueue(
            job_names.OFFER_SMS,
            run_id,
            retry=SYNC_RETRY,
            result_ttl=0,
            description=f"offer SMS for run {run_id}",
        )

    def record_opt_out(self, respondent: str, opted_out: bool, at: datetime) -> None:
        """Ask a worker to keep STOP / START in the database."""
        self.queue.enqueue(
            job_names.RECORD_OPT_OUT,
            respondent,
            opted_out,
            at.isoformat(),
            retry=SYNC_RETRY,
            result_ttl=0,
            description="record an opt-out" if opted_out else "record an opt-in",
        )

    def withdraw_report(
        self, reply: Reply, code: str, typed: str, language: str, at: datetime
    ) -> None:
        """Ask a worker to withdraw an enumerator's report, then answer them by SMS."""
        self.phones.keep_phone(reply.respondent, reply.phone_token)
        self.queue.enqueue(
            job_names.WITHDRAW_REPORT,
            reply.key,
            reply.respondent,
            code,
            typed,
            language,
            at.isoformat(),
            job_id=f"withdraw-{reply.key}",
            retry=SYNC_RETRY,
            result_ttl=0,
            description="withdraw a report",
        )

    def send_message(self, message_id: str) -> None:
        """Ask a worker to send one outbound message."""
        self.send_messages([message_id])

    def send_messages(self, message_ids: list[str]) -> None:
        """Ask workers to send outbound messages, queued in one round trip to Redis."""
        jobs = [
            Queue.prepare_data(
                job_names.SEND_MESSAGE,
                (message_id,),
                job_id=f"send-{message_id}",
                retry=SEND_RETRY,
                result_ttl=0,
                description=f"send message {message_id}",
            )
            for message_id in dict.fromkeys(message_ids)
        ]
        if jobs:
            self.queue.enqueue_many(jobs)

    def send_message_at(self, message_id: str, at: datetime, job_id: str) -> None:
        """Ask a worker to send one outbound message at ``at`` (a send paced by a throttle)."""
        self.queue.enqueue_at(
            at,
            job_names.SEND_MESSAGE,
            message_id,
            job_id=job_id,
            retry=SEND_RETRY,
            result_ttl=0,
            description=f"send message {message_id} (paced)",
        )

    def record_delivery(
        self,
        provider_id: str,
        status: str,
        failure_reason: str | None,
        network_code: str | None,
        reported_at_iso: str,
    ) -> None:
        """Ask a worker to apply one AT delivery report to the message AT calls ``provider_id``."""
        # One job id per (message, status), like the webhook's de-duplication key: AT re-sending
        # a report cannot queue it twice. The webhook lets through only ids of letters, digits,
        # "_" and "-", and statuses without "-", so RQ accepts the job id and no two reports
        # share one.
        self.queue.enqueue(
            job_names.RECORD_DELIVERY,
            provider_id,
            status,
            failure_reason,
            network_code,
            reported_at_iso,
            job_id=f"dlr-{provider_id}-{status}",
            retry=SYNC_RETRY,
            result_ttl=0,
            description=f"delivery report {status} for {provider_id}",
        )
