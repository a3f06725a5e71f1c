"""A campaign's throttle holds where it matters: at AT's door, whatever piles up before it.

The fan-out sends its invitations itself, but a campaign's replies and retries are queued and
can pile up behind a busy worker (an AT outage with its retries), and several workers then
drain them at once. Each send takes the campaign's grant right before AT is called, through
Redis, so AT never sees more than the throttle in any second.
"""

from __future__ import annotations

import threading
import time

from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from gateway.campaigns.lifecycle import start_campaign
from gateway.campaigns.models import CampaignContact
from gateway.core.runtime import Runtime
from gateway.messaging.models import Message, MessageStatus
from gateway.messaging.sender import AfricasTalkingSender, SendResult
from handlers.ports import Reply
from tests.at_server import FakeATServer
from tests.campaigns.test_campaigns import MORNING, FakeClock, change, new_campaign, numbers
from workers.campaigns import fan_out, reply_key
from workers.context import WorkerContext, install

THROTTLE = 5


class ClockedSender:
    """The real AT sender, noting when each request leaves for AT."""

    def __init__(self, inner: AfricasTalkingSender) -> None:
        self.inner = inner
        self.times: list[float] = []
        self._lock = threading.Lock()

    def send(self, to: str, body: str) -> SendResult:
        with self._lock:
            self.times.append(time.monotonic())
        return self.inner.send(to, body)


def busiest_second(times: list[float]) -> int:
    """The most requests in any one-second window (sliding, not by clock second)."""
    ordered = sorted(times)
    return max(sum(1 for t in ordered[i:] if t < start + 1.0) for i, start in enumerate(ordered))


def test_a_backlog_drained_by_three_workers_reaches_at_no_faster_than_the_throttle(
    runtime: Runtime, at_server: FakeATServer
) -> None:
    campaign_id, _ = new_campaign(runtime, numbers(24), channel="ussd", throttle=THROTTLE)
    change(runtime, start_campaign, campaign_id)
    # The campaign's replies pile up while no worker sends (all busy elsewhere).
    _queue_replies(runtime, campaign_id, 24)
    backlog = [j for j in runtime.queue.get_jobs() if j.func_name == "workers.sms.send_reply"]
    assert len(backlog) == 24

    sender = ClockedSender(_at(at_server))
    install(WorkerContext(runtime=runtime, sender=sender))  # the real clock from here
    lanes = [backlog[i::3] for i in range(3)]
    workers = [threading.Thread(target=lambda js=js: [j.perform() for j in js]) for js in lanes]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)

    assert len(sender.times) == 24 == at_server.received_count
    assert busiest_second(sender.times) <= THROTTLE


def _at(at_server: FakeATServer) -> AfricasTalkingSender:
    return AfricasTalkingSender("sandbox", "k", api_url=at_server.url)


def _queue_replies(runtime: Runtime, campaign_id: str, count: int) -> None:
    """Queue one reply of the campaign to each of its first ``count`` contacts."""
    with runtime.sessions() as session:
        contacts = session.scalars(
            select(CampaignContact)
            .where(CampaignContact.campaign_id == campaign_id)
            .order_by(CampaignContact.id)
            .limit(count)
        ).all()
        for contact in contacts:
            runtime.jobs.send_sms(
                Reply(
                    key=f"{reply_key(campaign_id, contact.id)}-2",
                    respondent=contact.respondent_id,
                    phone_token=contact.phone_encrypted,
                    kind="question",
                    body="Combien de personnes dans votre menage?",
                )
            )


def test_one_worker_fanning_out_reaches_at_at_the_throttle_with_no_job_per_invitation(
    runtime: Runtime, at_server: FakeATServer
) -> None:
    campaign_id, _ = new_campaign(runtime, numbers(12), throttle=THROTTLE)
    change(runtime, start_campaign, campaign_id)
    sender = ClockedSender(_at(at_server))
    install(WorkerContext(runtime=runtime, sender=sender))

    fan_out(campaign_id)

    # Every first question reached AT from the fan-out itself, paced at the door.
    assert len(sender.times) == 12 == at_server.received_count
    assert busiest_second(sender.times) >= THROTTLE - 1
    assert busiest_second(sender.times) <= THROTTLE
    assert not [j for j in runtime.queue.get_jobs() if j.func_name == "workers.sms.send_reply"]
    # No number was kept in Redis for a queued reply: the outbox holds it.
    assert not runtime.redis.keys("sg:phone:*")
    with runtime.sessions() as session:
        sent = session.scalars(select(Message.status).where(Message.kind == "question")).all()
    assert sent == [MessageStatus.SENT] * 12


def test_a_send_whose_turn_is_far_off_waits_unclaimed_in_rqs_schedule(
    runtime: Runtime, at_server: FakeATServer
) -> None:
    campaign_id, _ = new_campaign(runtime, numbers(2), channel="ussd", throttle=0.2)
    change(runtime, start_campaign, campaign_id)
    install(WorkerContext(runtime=runtime, sender=_at(at_server), clock=FakeClock(MORNING)))
    _queue_replies(runtime, campaign_id, 2)
    first, second = [j for j in runtime.queue.get_jobs() if j.func_name == "workers.sms.send_reply"]
    first.perform()
    second.perform()  # one every five seconds: the second's turn is five seconds off

    assert at_server.received_count == 1
    with runtime.sessions() as session:
        waiting = session.scalars(
            select(Message).where(Message.status == MessageStatus.QUEUED)
        ).one()
    scheduled = ScheduledJobRegistry(queue=runtime.queue)
    later = [runtime.queue.fetch_job(i) for i in scheduled.get_job_ids()]
    assert [(j.func_name, j.args) for j in later if j and j.func_name.endswith("send_message")] == [
        ("workers.jobs.send_message", (waiting.id,))
    ]
