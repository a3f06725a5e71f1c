"""Workers store runs and send confirmations through AT's real SDK, against a local fake AT."""

from __future__ import annotations

from collections.abc import Callable

from flask.testing import FlaskClient
from rq.job import Job
from rq.registry import ScheduledJobRegistry
from sqlalchemy import func, select

from gateway.core.runtime import Runtime
from gateway.messaging.models import Message, MessageStatus
from gateway.messaging.sender import AfricasTalkingSender
from gateway.surveys.models import Submission
from tests.at_server import FakeATServer
from tests.phone import FULL_SURVEY_RETURN, Phone
from workers import jobs


def complete_survey(client: FlaskClient, number: str = "+22376123456") -> None:
    phone = Phone(client, number=number)
    phone.dial()
    phone.answer_all(FULL_SURVEY_RETURN)


def the_message(runtime: Runtime) -> Message:
    with runtime.sessions() as session:
        (message,) = session.scalars(select(Message))
        return message


def at(server: FakeATServer) -> AfricasTalkingSender:
    return AfricasTalkingSender("sandbox", "key-123", sender_id="IOM-DNDS", api_url=server.url)


def test_the_confirmation_goes_out_through_at(
    client: FlaskClient,
    runtime: Runtime,
    run_jobs: Callable[..., int],
    at_server: FakeATServer,
) -> None:
    complete_survey(client)

    run_jobs(at(at_server))

    message = the_message(runtime)
    assert message.status is MessageStatus.SENT
    assert message.provider_id == "ATXid_1"
    assert message.cost == "XOF 25.0000"
    (request,) = at_server.requests
    assert request.form["to"] == "+22376123456"
    assert request.form["from"] == "IOM-DNDS"
    with runtime.sessions() as session:
        reference = session.scalars(select(Submission.reference)).one()
    assert request.form["message"] == (
        f"OIM/DNDS: merci, vos reponses sont enregistrees. Reference: {reference}. "
        "Pour effacer vos donnees, envoyez EFFACER."
    )


def test_a_transient_at_failure_is_retried_later_and_then_sent(
    client: FlaskClient,
    runtime: Runtime,
    run_jobs: Callable[..., int],
    at_server: FakeATServer,
) -> None:
    at_server.respond_with("http_502", "sent")
    complete_survey(client)

    run_jobs(at(at_server))

    message = the_message(runtime)
    assert message.status is MessageStatus.QUEUED  # not "sending": AT surely did not take it
    assert message.attempts == 1 and "502" in (message.error or "")
    scheduled = ScheduledJobRegistry(queue=runtime.queue).get_job_ids()
    assert scheduled == [f"send-{message.id}"]

    # The retry's time has come: RQ's scheduler would move it back to the queue.
    runtime.queue.enqueue_job(Job.fetch(scheduled[0], connection=runtime.redis))
    run_jobs(at(at_server))

    message = the_message(runtime)
    assert message.status is MessageStatus.SENT and message.attempts == 2
    assert message.error is None
    assert len(at_server.requests) == 2


def test_a_permanent_at_refusal_marks_the_message_failed(
    client: FlaskClient,
    runtime: Runtime,
    run_jobs: Callable[..., int],
    at_server: FakeATServer,
) -> None:
    at_server.respond_with("blacklisted")
    complete_survey(client)

    run_jobs(at(at_server))

    message = the_message(runtime)
    assert message.status is MessageStatus.FAILED
    assert "UserInBlacklist" in (message.error or "")
    assert "76123456" not in (message.error or "")
    assert ScheduledJobRegistry(queue=runtime.queue).get_job_ids() == []
    assert len(at_server.requests) == 1


def test_jobs_run_twice_store_once_and_send_once(
    client: FlaskClient,
    runtime: Runtime,
    run_jobs: Callable[..., int],
    at_server: FakeATServer,
) -> None:
    complete_survey(client)
    run_jobs(at(at_server))
    message = the_message(runtime)
    with runtime.sessions() as session:
        run_id = session.scalars(select(Submission.id)).one()

    jobs.sync_run(run_id)
    jobs.sync_run(run_id)
    jobs.send_message(message.id)

    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Submission)) == 1
        assert session.scalar(select(func.count()).select_from(Message)) == 1
    assert len(at_server.requests) == 1


def test_a_send_cut_short_by_a_dead_worker_is_marked_for_a_check_not_sent_again(
    client: FlaskClient,
    runtime: Runtime,
    run_jobs: Callable[..., int],
    at_server: FakeATServer,
) -> None:
    complete_survey(client)
    run_jobs(at(at_server))
    sent = the_message(runtime)
    assert sent.status is MessageStatus.SENT
    # As a worker killed while AT was answering leaves the message: claimed, outcome unwritten.
    with runtime.sessions.begin() as session:
        message = session.get(Message, sent.id)
        assert message is not None
        message.status = MessageStatus.SENDING

    jobs.send_message(sent.id)  # RQ retrying the abandoned job

    message = the_message(runtime)
    assert message.status is MessageStatus.UNKNOWN
    assert message.error == jobs.INTERRUPTED
    assert len(at_server.requests) == 1  # the household is not texted a second time


def test_the_raw_number_is_stored_only_encrypted(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    complete_survey(client)
    run_jobs()

    with runtime.engine.connect() as connection:
        dump = "\n".join(
            str(row)
            for table in ("respondents", "submissions", "answers", "messages")
            for row in connection.exec_driver_sql(f"SELECT * FROM {table}")
        )
    assert "76123456" not in dump
    assert runtime.cipher.decrypt(the_message(runtime).to_encrypted) == "+22376123456"
    # Job payloads in Redis carry ids, never the number.
    payloads = b"".join(
        runtime.redis.hget(key, "data") or b"" for key in runtime.redis.scan_iter("rq:job:*")
    )
    assert b"76123456" not in payloads
