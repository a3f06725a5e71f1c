"""The message sweep: what a dead worker left behind is sent once, or settled, never lost."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from rq.registry import ScheduledJobRegistry
from sqlalchemy import update

from gateway.core.clock import utc_now
from gateway.core.runtime import Runtime
from gateway.messaging.models import Message, MessageStatus
from gateway.messaging.sender import AfricasTalkingSender
from gateway.surveys.persistence import create_message
from tests.at_server import FakeATServer
from workers import maintenance

NUMBER = "+22376123456"
BODY = "OIM/DNDS: merci, vos reponses sont enregistrees."


def at(server: FakeATServer) -> AfricasTalkingSender:
    return AfricasTalkingSender("sandbox", "key-123", api_url=server.url)


def stored_message(runtime: Runtime, **row: object) -> str:
    """A confirmation in the outbox whose send job was never queued, as a job that died
    between storing it and queueing its send leaves it."""
    with runtime.sessions.begin() as session:
        message = create_message(
            session,
            submission_id=None,
            respondent_id="r-1",
            kind="confirmation",
            to_e164=NUMBER,
            body=BODY,
            cipher=runtime.cipher,
        )
        for name, value in row.items():
            setattr(message, name, value)
        return message.id


def age(runtime: Runtime, message_id: str, by: timedelta) -> None:
    with runtime.sessions.begin() as session:
        session.execute(
            update(Message).where(Message.id == message_id).values(updated_at=utc_now() - by)
        )


def the_message(runtime: Runtime, message_id: str) -> Message:
    with runtime.sessions() as session:
        message = session.get(Message, message_id)
        assert message is not None
        return message


def sweep(runtime: Runtime, run_jobs: Callable[..., int], server: FakeATServer) -> None:
    runtime.queue.enqueue("workers.maintenance.sweep_messages")
    run_jobs(at(server))


def test_a_message_whose_send_was_never_queued_is_sent_once_when_it_is_stuck(
    runtime: Runtime, run_jobs: Callable[..., int], at_server: FakeATServer
) -> None:
    message_id = stored_message(runtime)

    sweep(runtime, run_jobs, at_server)
    assert at_server.requests == []  # a few seconds old: it may yet be queued
    assert the_message(runtime, message_id).status is MessageStatus.QUEUED

    age(runtime, message_id, maintenance.STUCK_AFTER + timedelta(minutes=1))
    sweep(runtime, run_jobs, at_server)
    sweep(runtime, run_jobs, at_server)

    (request,) = at_server.requests
    assert request.form["to"] == NUMBER and request.form["message"] == BODY
    assert the_message(runtime, message_id).status is MessageStatus.SENT


def test_a_send_claimed_by_a_job_that_is_gone_is_marked_for_a_check_not_sent(
    runtime: Runtime, run_jobs: Callable[..., int], at_server: FakeATServer
) -> None:
    message_id = stored_message(runtime, status=MessageStatus.SENDING)
    age(runtime, message_id, maintenance.STUCK_AFTER + timedelta(minutes=1))

    sweep(runtime, run_jobs, at_server)

    message = the_message(runtime, message_id)
    assert message.status is MessageStatus.UNKNOWN
    assert at_server.requests == []


def test_a_message_waiting_out_a_retry_is_left_to_it_and_given_up_after_the_last(
    runtime: Runtime, run_jobs: Callable[..., int], at_server: FakeATServer
) -> None:
    at_server.respond_with("http_502")
    message_id = stored_message(runtime)
    runtime.jobs.send_message(message_id)
    run_jobs(at(at_server))
    assert the_message(runtime, message_id).attempts == 1
    age(runtime, message_id, maintenance.STUCK_AFTER + timedelta(minutes=1))

    sweep(runtime, run_jobs, at_server)
    assert len(at_server.requests) == 1  # its retry is scheduled: RQ still has it
    assert the_message(runtime, message_id).status is MessageStatus.QUEUED

    # RQ ran out of retries, and the last was long ago.
    runtime.queue.fetch_job(f"send-{message_id}").delete()  # type: ignore[union-attr]
    age(runtime, message_id, maintenance.GIVEN_UP_AFTER + timedelta(minutes=1))
    sweep(runtime, run_jobs, at_server)

    message = the_message(runtime, message_id)
    assert message.status is MessageStatus.FAILED
    assert message.error is not None
    assert message.error.startswith("not sent: AT could not be reached after 1 attempt(s)")
    assert "502" in message.error and "76123456" not in message.error
    assert len(at_server.requests) == 1


def test_each_sweep_plans_the_next(runtime: Runtime, run_jobs: Callable[..., int]) -> None:
    before = utc_now()
    runtime.queue.enqueue("workers.maintenance.sweep_messages")
    run_jobs()

    registry = ScheduledJobRegistry(queue=runtime.queue)
    assert registry.get_job_ids() == [maintenance.SWEEP_JOB_ID]
    due = registry.get_scheduled_time(maintenance.SWEEP_JOB_ID)
    assert before + maintenance.SWEEP_EVERY - timedelta(seconds=1) <= due
    assert due <= utc_now() + maintenance.SWEEP_EVERY
