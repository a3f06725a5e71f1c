"""AT delivery reports: posted to /sms/delivery as AT posts them, applied by the worker.

Each test sends a real confirmation through AT's SDK to the local fake AT, so the stored message
has AT's id "ATXid_1", then reports on it the way AT would.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from flask.testing import FlaskClient
from rq.registry import FailedJobRegistry, ScheduledJobRegistry
from sqlalchemy import bindparam, select, text, update
from sqlalchemy.exc import IntegrityError
from werkzeug.test import TestResponse

from gateway.core.db import alembic_config, make_engine, upgrade
from gateway.core.models import UTCDateTime
from gateway.core.runtime import Runtime
from gateway.messaging.models import Message, MessageStatus
from gateway.messaging.sender import AfricasTalkingSender
from gateway.web.webhooks.delivery import DEDUPE_TTL_S, dedupe_key
from gateway.web.webhooks.once import Take, take
from tests.at_server import FakeATServer
from tests.phone import FULL_SURVEY_RETURN, Phone
from workers import delivery

NUMBER = "+22376123456"
PROVIDER_ID = "ATXid_1"


@dataclass(frozen=True, slots=True)
class Row:
    """What a delivery report may change on the stored message."""

    status: MessageStatus
    provider_status: str | None
    failure_reason: str | None
    network_code: str | None
    delivered_at: datetime | None
    updated_at: datetime


def the_row(runtime: Runtime) -> Row:
    with runtime.sessions() as session:
        (message,) = session.scalars(select(Message))
        return Row(
            status=message.status,
            provider_status=message.provider_status,
            failure_reason=message.failure_reason,
            network_code=message.network_code,
            delivered_at=message.delivered_at,
            updated_at=message.updated_at,
        )


@pytest.fixture
def sent(
    client: FlaskClient,
    runtime: Runtime,
    run_jobs: Callable[..., int],
    at_server: FakeATServer,
) -> Row:
    """A completed USSD survey whose confirmation AT took, as message "ATXid_1"."""
    phone = Phone(client, number=NUMBER)
    phone.dial()
    phone.answer_all(FULL_SURVEY_RETURN)
    run_jobs(AfricasTalkingSender("sandbox", "k", api_url=at_server.url))
    with runtime.sessions() as session:
        assert session.scalars(select(Message.provider_id)).one() == PROVIDER_ID
    row = the_row(runtime)
    assert row.status is MessageStatus.SENT and row.provider_status is None
    return row


def report(
    client: FlaskClient, status: str, provider_id: str = PROVIDER_ID, **fields: str
) -> TestResponse:
    """Post a delivery report as AT does: every field, the number in full."""
    form = {
        "id": provider_id,
        "status": status,
        "phoneNumber": NUMBER,
        "networkCode": "61002",
        "retryCount": "0",
        **fields,
    }
    return client.post("/sms/delivery", data=form)


def ok(response: TestResponse) -> None:
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    assert response.get_data(as_text=True) == "OK"


# --- one report -------------------------------------------------------------------------------


def test_success_marks_the_message_delivered(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int], sent: Row
) -> None:
    before = datetime.now(UTC)
    ok(report(client, "Success"))
    after = datetime.now(UTC)
    # The webhook only queues: nothing changes until a worker runs.
    assert the_row(runtime) == sent

    run_jobs()

    row = the_row(runtime)
    assert row.status is MessageStatus.DELIVERED
    assert row.provider_status == "Success"
    assert row.network_code == "61002"
    assert row.failure_reason is None
    assert row.delivered_at is not None and before <= row.delivered_at <= after
    assert FailedJobRegistry(queue=runtime.queue).get_job_ids() == []


@pytest.mark.parametrize(
    ("at_status", "ours"),
    [
        ("Sent", MessageStatus.SENT),
        ("Submitted", MessageStatus.SUBMITTED),
        ("Buffered", MessageStatus.BUFFERED),
        ("Rejected", MessageStatus.REJECTED),
        ("Success", MessageStatus.DELIVERED),
        ("Failed", MessageStatus.FAILED),
        ("Expired", MessageStatus.EXPIRED),
    ],
)
def test_each_at_status_has_its_word(
    client: FlaskClient,
    runtime: Runtime,
    run_jobs: Callable[..., int],
    sent: Row,
    at_status: str,
    ours: MessageStatus,
) -> None:
    ok(report(client, at_status))
    run_jobs()
    row = the_row(runtime)
    assert row.status is ours and row.provider_status == at_status
    assert (row.delivered_at is not None) == (ours is MessageStatus.DELIVERED)


def test_a_failed_report_keeps_its_reason_and_a_later_final_changes_nothing(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int], sent: Row
) -> None:
    ok(report(client, "Failed", failureReason="InsufficientCredit"))
    run_jobs()
    failed = the_row(runtime)
    assert failed.status is MessageStatus.FAILED
    assert failed.provider_status == "Failed"
    assert failed.failure_reason == "InsufficientCredit"
    assert failed.delivered_at is None

    # AT sends one final status; should a second come, the first stands.
    ok(report(client, "Success"))
    run_jobs()
    assert the_row(runtime) == failed


def test_buffered_then_success(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int], sent: Row
) -> None:
    ok(report(client, "Buffered", failureReason="AbsentSubscriber"))
    run_jobs()
    buffered = the_row(runtime)
    assert buffered.status is MessageStatus.BUFFERED
    assert buffered.failure_reason == "AbsentSubscriber"
    assert buffered.delivered_at is None

    ok(report(client, "Success"))
    run_jobs()
    row = the_row(runtime)
    assert row.status is MessageStatus.DELIVERED and row.provider_status == "Success"
    # The handset came back: the reason it was held no longer describes the message.
    assert row.failure_reason is None
    assert row.delivered_at is not None


def test_a_late_sent_after_success_changes_nothing(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int], sent: Row
) -> None:
    ok(report(client, "Success"))
    run_jobs()
    delivered = the_row(runtime)

    ok(report(client, "Sent"))
    ok(report(client, "Buffered", failureReason="AbsentSubscriber"))
    ok(report(client, "Queued"))  # not even an unknown status touches a final one
    run_jobs()

    assert the_row(runtime) == delivered


def test_a_late_submitted_after_buffered_changes_nothing(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int], sent: Row
) -> None:
    ok(report(client, "Buffered"))
    run_jobs()
    buffered = the_row(runtime)
    ok(report(client, "Submitted"))
    run_jobs()
    assert the_row(runtime) == buffered


def test_an_unknown_at_status_is_kept_and_the_status_left_alone(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int], sent: Row
) -> None:
    ok(report(client, "Queued"))
    run_jobs()
    row = the_row(runtime)
    assert row.status is MessageStatus.SENT
    assert row.provider_status == "Queued"
    assert FailedJobRegistry(queue=runtime.queue).get_job_ids() == []

    # A known status after it still applies.
    ok(report(client, "Success"))
    run_jobs()
    assert the_row(runtime).status is MessageStatus.DELIVERED


def test_reports_in_any_order_end_delivered_and_never_move_back(
    runtime: Runtime, run_jobs: Callable[..., int], sent: Row
) -> None:
    run_jobs()  # installs the worker context the job below runs in
    progress = {
        MessageStatus.SENT: 1,
        MessageStatus.SUBMITTED: 2,
        MessageStatus.BUFFERED: 3,
        MessageStatus.DELIVERED: 4,
    }
    received = {
        "Sent": datetime(2025, 3, 1, 9, 0, 0, tzinfo=UTC),
        "Submitted": datetime(2025, 3, 1, 9, 0, 1, tzinfo=UTC),
        "Buffered": datetime(2025, 3, 1, 9, 0, 2, tzinfo=UTC),
        "Success": datetime(2025, 3, 1, 9, 5, 0, tzinfo=UTC),
    }
    for order in itertools.permutations(received):
        with runtime.sessions.begin() as session:
            session.execute(
                update(Message).values(
                    status=MessageStatus.SENT, provider_status=None, delivered_at=None
                )
            )
        seen = [the_row(runtime).status]
        for at_status in order:
            delivery.record_delivery(
                PROVIDER_ID, at_status, None, None, received[at_status].isoformat()
            )
            seen.append(the_row(runtime).status)
        steps = [progress[status] for status in seen]
        assert steps == sorted(steps), order
        row = the_row(runtime)
        assert row.status is MessageStatus.DELIVERED, order
        assert row.provider_status == "Success" and row.delivered_at == received["Success"]


# --- AT's retries and strangers' reports --------------------------------------------------------


def test_a_repeated_report_is_queued_once_and_applied_once(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int], sent: Row
) -> None:
    assert runtime.queue.count == 0
    ok(report(client, "Success"))
    assert runtime.queue.count == 1
    ok(report(client, "Success", retryCount="1"))
    ok(report(client, "Success", retryCount="2"))
    assert runtime.queue.count == 1
    key = dedupe_key(PROVIDER_ID, "Success")
    assert DEDUPE_TTL_S - 60 < runtime.redis.ttl(key) <= DEDUPE_TTL_S

    finished_before = run_jobs()
    delivered = the_row(runtime)
    assert delivered.status is MessageStatus.DELIVERED

    # A retry arriving after the job ran is still recognised, and still changes nothing.
    ok(report(client, "Success", retryCount="3"))
    assert runtime.queue.count == 0
    assert run_jobs() == finished_before
    assert the_row(runtime) == delivered


def test_a_report_whose_first_request_died_midway_is_queued_on_at_s_retry(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int], sent: Row
) -> None:
    key = dedupe_key(PROVIDER_ID, "Success")
    # What a web process killed right after taking the report leaves behind.
    assert take(runtime.redis, key) is Take.NEW

    busy = report(client, "Success", retryCount="1")
    assert (busy.status_code, busy.headers["Retry-After"]) == (503, "10")
    assert runtime.queue.count == 0

    runtime.redis.pexpire(key, 1)  # the mark lapses by itself
    time.sleep(0.01)
    ok(report(client, "Success", retryCount="2"))
    assert runtime.queue.count == 1
    run_jobs()
    assert the_row(runtime).status is MessageStatus.DELIVERED


def test_a_report_for_a_message_we_do_not_know_is_acknowledged_and_ignored(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int], sent: Row
) -> None:
    ok(report(client, "Success", provider_id="ATXid_999"))
    assert runtime.queue.count == 1
    run_jobs()

    assert the_row(runtime) == sent
    assert FailedJobRegistry(queue=runtime.queue).get_job_ids() == []
    assert ScheduledJobRegistry(queue=runtime.queue).get_job_ids() == []


@pytest.mark.parametrize(
    ("form", "problem"),
    [
        ({"status": "Success"}, "missing id"),
        ({"id": PROVIDER_ID}, "missing status"),
        ({"id": "  ", "status": "Success"}, "missing id"),
        ({"id": PROVIDER_ID, "status": ""}, "missing status"),
        ({"id": "A" * 101, "status": "Success"}, "id is longer than 100 characters"),
        ({"id": PROVIDER_ID, "status": "S" * 33}, "status is longer than 32 characters"),
        ({"id": "ATXid:1", "status": "Success"}, "id holds characters AT does not use"),
        ({"id": PROVIDER_ID, "status": "Suc-cess"}, "status holds characters AT does not use"),
        (
            {"id": PROVIDER_ID, "status": "Failed", "failureReason": "X" * 65},
            "failureReason is longer than 64 characters",
        ),
        (
            {"id": PROVIDER_ID, "status": "Failed", "failureReason": "a\x1bb"},
            "failureReason holds control characters",
        ),
        (
            {"id": PROVIDER_ID, "status": "Success", "networkCode": "6" * 17},
            "networkCode is longer than 16 characters",
        ),
        (
            {"id": PROVIDER_ID, "status": "Success", "retryCount": "9" * 9},
            "retryCount is longer than 8 characters",
        ),
    ],
)
def test_a_bad_report_is_refused_with_400_and_nothing_queued(
    client: FlaskClient, runtime: Runtime, form: dict[str, str], problem: str
) -> None:
    response = client.post("/sms/delivery", data=form)

    assert response.status_code == 400
    assert response.get_json() == {"error": "Bad Request", "message": problem}
    assert runtime.queue.count == 0
    assert list(runtime.redis.scan_iter("sg:dlr:*")) == []


def test_the_phone_number_is_kept_out_of_jobs_and_logs(
    client: FlaskClient,
    runtime: Runtime,
    run_jobs: Callable[..., int],
    sent: Row,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        ok(report(client, "Failed", failureReason="UserInBlacklist"))
        (job,) = runtime.queue.get_jobs()
        run_jobs()

    assert job.func_name == "workers.delivery.record_delivery"
    assert job.args[:4] == (PROVIDER_ID, "Failed", "UserInBlacklist", "61002")
    assert "76123456" not in repr((job.args, job.kwargs, job.description))
    assert caplog.records and "76123456" not in caplog.text
    assert the_row(runtime).status is MessageStatus.FAILED


# --- schema -------------------------------------------------------------------------------------


# A raw insert, for schemas older than the models.
INSERT_MESSAGE = text(
    "INSERT INTO messages (id, respondent_id, kind, to_encrypted, to_masked, body, status,"
    " attempts, created_at, updated_at)"
    " VALUES (:id, 'r', 'confirmation', 'x', '+22376****56', 'b', :status, 1, :at, :at)"
).bindparams(bindparam("at", type_=UTCDateTime()))


def test_migration_0002_widens_the_status_check_and_downgrades_cleanly(database_url: str) -> None:
    upgrade(database_url, "0001")
    engine = make_engine(database_url)
    now = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
    insert = INSERT_MESSAGE
    try:
        with engine.begin() as connection:
            connection.execute(insert, {"id": "m1", "status": "sent", "at": now})
        upgrade(engine, "0002")
        with engine.begin() as connection:
            connection.execute(
                text(
                    "UPDATE messages SET status = 'delivered', provider_status = 'Success',"
                    " failure_reason = NULL, network_code = '61002', delivered_at = :at"
                ).bindparams(bindparam("at", type_=UTCDateTime())),
                {"at": now + timedelta(minutes=1)},
            )
            connection.execute(insert, {"id": "m2", "status": "unknown", "at": now})
        # The CHECK is still there, only wider.
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(insert, {"id": "m3", "status": "bogus", "at": now})

        with engine.begin() as connection:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.downgrade(config, "0001")
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT id, status FROM messages")).all()
        statuses: dict[str, str] = {row[0]: row[1] for row in rows}
        assert statuses == {"m1": "sent", "m2": "failed"}
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(insert, {"id": "m4", "status": "delivered", "at": now})
    finally:
        engine.dispose()


def test_migration_0006_admits_sending_and_downgrades_it_to_unknown(database_url: str) -> None:
    upgrade(database_url, "0005")
    engine = make_engine(database_url)
    now = datetime(2025, 4, 1, 9, 0, tzinfo=UTC)
    insert = INSERT_MESSAGE
    try:
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(insert, {"id": "m0", "status": "sending", "at": now})
        upgrade(engine, "0006")
        with engine.begin() as connection:
            connection.execute(insert, {"id": "m1", "status": "sending", "at": now})
            connection.execute(insert, {"id": "m2", "status": "queued", "at": now})

        with engine.begin() as connection:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.downgrade(config, "0005")
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT id, status FROM messages")).all()
        assert {row[0]: row[1] for row in rows} == {"m1": "unknown", "m2": "queued"}
    finally:
        engine.dispose()


# --- sending, when AT's answer never came -------------------------------------------------------


def test_a_send_whose_outcome_is_unknown_is_marked_unknown_and_not_retried(
    client: FlaskClient,
    runtime: Runtime,
    run_jobs: Callable[..., int],
    at_server: FakeATServer,
) -> None:
    at_server.respond_with("slow")  # answers after 2 s; the sender stops waiting after 0.5 s
    phone = Phone(client, number=NUMBER)
    phone.dial()
    phone.answer_all(FULL_SURVEY_RETURN)

    run_jobs(AfricasTalkingSender("sandbox", "k", api_url=at_server.url, timeout=(1, 0.5)))

    with runtime.sessions() as session:
        (message,) = session.scalars(select(Message))
    assert message.status is MessageStatus.UNKNOWN
    assert "not re-sent" in (message.error or "")
    assert message.attempts == 1
    assert ScheduledJobRegistry(queue=runtime.queue).get_job_ids() == []
    assert len(at_server.requests) == 1
