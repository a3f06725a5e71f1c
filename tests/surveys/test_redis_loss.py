"""Redis may lose everything at any moment: what protects a person is read from the database.

Each test wipes the live Redis (FLUSHALL, as a server replaced or restarted without its
append-only file would come back) at the worst moment, then checks what the household sees
or is sent. The database is the record of opt-outs, completions and enumerator approvals.
"""

from __future__ import annotations

from collections.abc import Callable

import redis
from flask.testing import FlaskClient
from sqlalchemy import select

from gateway.campaigns.lifecycle import start_campaign
from gateway.campaigns.models import ContactStatus
from gateway.campaigns.progress import Progress
from gateway.core.runtime import Runtime
from gateway.core.settings import Settings
from gateway.messaging.models import Message, MessageStatus
from gateway.surveys.live_facts import facts_ready
from tests.campaigns.test_campaigns import (
    MORNING,
    FakeClock,
    change,
    contacts_of,
    counts,
    invitations,
    new_campaign,
    numbers,
    work,
)
from tests.enumerators.test_enumerators import ENUMERATOR, approved_code, register
from tests.phone import FULL_SURVEY_RETURN, Phone, SmsPhone
from workers.jobs import send_message
from workers.recovery import restore_live_state

HOUSEHOLD = "+22376123456"


def wipe(client: redis.Redis) -> None:
    """Redis comes back empty."""
    client.flushall()


def messages_to(runtime: Runtime, number: str) -> list[Message]:
    with runtime.sessions() as session:
        rows = session.scalars(select(Message).order_by(Message.created_at)).all()
        return [m for m in rows if runtime.cipher.decrypt(m.to_encrypted) == number]


def test_after_a_wipe_a_campaign_started_later_does_not_text_a_number_that_sent_stop(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    stays, leaves = numbers(2)
    campaign_id, _ = new_campaign(runtime, [stays, leaves])
    SmsPhone(client, runtime, run_jobs, number=leaves).send("STOP")  # recorded by the workers

    wipe(runtime.redis)
    change(runtime, start_campaign, campaign_id)
    work(runtime, FakeClock(MORNING))

    assert list(invitations(runtime)) == [runtime.services.pseudonymise(stays)]
    assert counts(runtime, campaign_id) == Progress(contacts=2, sent=1, answering=1, opted_out=1)
    assert [m.kind for m in messages_to(runtime, leaves)] == ["opt_out"]


def test_after_a_wipe_a_list_imported_later_leaves_out_a_number_that_sent_stop(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    stays, leaves = numbers(2)
    SmsPhone(client, runtime, run_jobs, number=leaves).send("STOP")

    wipe(runtime.redis)
    campaign_id, report = new_campaign(runtime, [stays, leaves])

    assert [c.respondent_id for c in contacts_of(runtime, campaign_id)] == [
        runtime.services.pseudonymise(stays)
    ]
    assert report.opted_out == 1


def test_a_message_already_queued_is_not_sent_once_redis_has_forgotten_the_stop(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    # A household that sent STOP while its confirmation waited in the outbox (a USSD survey
    # completed just before): the send-time check must still find the STOP.
    phone = Phone(client, number=HOUSEHOLD)
    phone.dial()
    phone.answer_all(FULL_SURVEY_RETURN)
    sms = SmsPhone(client, runtime, run_jobs, number=HOUSEHOLD)
    sms.post("STOP")
    # The workers store the survey and the STOP, then Redis is lost before the confirmation's
    # turn comes: its send is run from the outbox by the sweep, as after any loss.
    run_jobs()
    with runtime.sessions.begin() as session:
        confirmation = session.scalars(select(Message).where(Message.kind == "confirmation")).one()
        confirmation.status = MessageStatus.QUEUED
        confirmation_id = confirmation.id
    wipe(runtime.redis)
    send_message(confirmation_id)

    with runtime.sessions() as session:
        stored = session.get(Message, confirmation_id)
        assert stored is not None
        assert (stored.status, stored.error) == (
            MessageStatus.FAILED,
            "not sent: the number opted out (STOP)",
        )


def test_a_stopped_number_that_completes_a_ussd_survey_gets_no_confirmation(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int], outbox_stream: object
) -> None:
    sms = SmsPhone(client, runtime, run_jobs, number=HOUSEHOLD)
    sms.send("STOP")
    phone = Phone(client, number=HOUSEHOLD)
    phone.dial()
    screens = phone.answer_all(FULL_SURVEY_RETURN)
    run_jobs()

    assert screens[-1].startswith("END ")
    sent = [(m.kind, m.status) for m in messages_to(runtime, HOUSEHOLD)]
    assert sent == [("opt_out", MessageStatus.RECORDED), ("confirmation", MessageStatus.FAILED)]


def test_a_household_that_completed_is_thanked_not_surveyed_again_after_a_wipe(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    phone = Phone(client, number=HOUSEHOLD)
    phone.dial()
    phone.answer_all(FULL_SURVEY_RETURN)
    run_jobs()

    wipe(runtime.redis)
    again = Phone(client, number=HOUSEHOLD).dial()
    restore_live_state(runtime)
    once_rebuilt = Phone(client, number=HOUSEHOLD).dial()

    assert again.startswith("END ") and "deja" in again.lower()
    assert once_rebuilt == again


def test_a_wiped_redis_is_refilled_from_the_database_by_a_worker(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    stops, completes = numbers(2)
    SmsPhone(client, runtime, run_jobs, number=stops).send("STOP")
    phone = Phone(client, number=completes)
    phone.dial()
    phone.answer_all(FULL_SURVEY_RETURN)
    run_jobs()

    wipe(runtime.redis)
    assert not facts_ready(runtime.redis)
    restore_live_state(runtime)

    assert facts_ready(runtime.redis)
    store = runtime.store
    assert store.is_opted_out(runtime.services.pseudonymise(stops))
    assert store.has_completed("return_intention", runtime.services.pseudonymise(completes))
    # Read from Redis alone now: the copy is whole.
    assert runtime.redis.exists(f"sg:optout:{runtime.services.pseudonymise(stops)}")
    # And the housekeeping jobs Redis lost are planned again.
    assert runtime.queue.fetch_job("sweep-messages") is not None
    assert runtime.queue.fetch_job("purge-daily") is not None


def test_start_after_stop_is_answered_and_surveys_go_on_while_the_database_catches_up(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    sms = SmsPhone(client, runtime, run_jobs, number=HOUSEHOLD)
    sms.send("STOP")
    restore_live_state(runtime)  # the copy of the facts is whole: Redis is believed

    replies = sms.send("START")
    assert len(replies) == 1  # the opt-in confirmation
    question = sms.send("ENQUETE")
    assert len(question) == 1 and "1." in question[0]
    assert all(m.status is MessageStatus.RECORDED for m in messages_to(runtime, HOUSEHOLD))


def test_an_approved_enumerator_keeps_the_menu_after_a_wipe(
    client: FlaskClient, runtime: Runtime, settings: Settings, run_jobs: Callable[..., int]
) -> None:
    register(runtime, run_jobs)
    code = approved_code(runtime, settings)
    wipe(runtime.redis)

    menu = Phone(client, number=ENUMERATOR).dial()

    assert menu == (
        f"CON Enqueteur {code}\n1. Enqueter un menage\n2. Mon code"
        "\n3. Suivi des flux\n4. Evaluation de site"
    )


def test_sms_contacts_skipped_after_a_wipe_are_those_the_database_says_completed(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    done, fresh = numbers(2)
    phone = Phone(client, number=done)
    phone.dial()
    phone.answer_all(FULL_SURVEY_RETURN)
    run_jobs()
    campaign_id, _ = new_campaign(runtime, [done, fresh], channel="ussd")

    wipe(runtime.redis)
    change(runtime, start_campaign, campaign_id)
    work(runtime, FakeClock(MORNING))

    statuses = {c.respondent_id: c.status for c in contacts_of(runtime, campaign_id)}
    assert statuses == {
        runtime.services.pseudonymise(done): ContactStatus.SKIPPED,
        runtime.services.pseudonymise(fresh): ContactStatus.SENT,
    }


def test_a_failover_to_a_replica_that_missed_the_stop_still_sends_nothing(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    # A replica promoted by Sentinel has the copy of the facts marked whole, but not the last
    # writes before the failover: here, the STOP. The database has it.
    stays, leaves = numbers(2)
    campaign_id, _ = new_campaign(runtime, [stays, leaves])
    SmsPhone(client, runtime, run_jobs, number=leaves).send("STOP")
    restore_live_state(runtime)
    runtime.redis.delete(f"sg:optout:{runtime.services.pseudonymise(leaves)}")

    change(runtime, start_campaign, campaign_id)
    work(runtime, FakeClock(MORNING))

    assert list(invitations(runtime)) == [runtime.services.pseudonymise(stays)]
    assert [m.kind for m in messages_to(runtime, leaves)] == ["opt_out"]


def test_a_reply_queued_before_a_failover_that_lost_the_stop_is_not_sent(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    sms = SmsPhone(client, runtime, run_jobs, number=HOUSEHOLD)
    sms.send("STOP")
    restore_live_state(runtime)
    sms.post("AIDE")  # silence for an opted-out number: nothing is queued
    runtime.redis.delete(f"sg:optout:{runtime.services.pseudonymise(HOUSEHOLD)}")
    sms.send("AIDE")  # Redis forgot the STOP: a help text is queued, and refused at AT's door

    help_texts = [m for m in messages_to(runtime, HOUSEHOLD) if m.kind == "help"]
    assert [(m.status, m.error) for m in help_texts] == [
        (MessageStatus.FAILED, "not sent: the number opted out (STOP)")
    ]


def test_a_send_waits_for_a_start_the_database_does_not_hold_yet(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    sms = SmsPhone(client, runtime, run_jobs, number=HOUSEHOLD)
    sms.send("STOP")
    sms.post("START")
    sms.post("ENQUETE")
    # The worker recording the START in the database is late (busy, or its database blipped).
    late = next(j for j in runtime.queue.get_jobs() if j.func_name.endswith("record_opt_out"))
    runtime.queue.remove(late)
    run_jobs()

    waiting = {m.kind: m.status for m in messages_to(runtime, HOUSEHOLD)}
    assert waiting == {
        "opt_out": MessageStatus.RECORDED,
        "opt_in": MessageStatus.RECORDED,
        "question": MessageStatus.QUEUED,  # not given up: it goes once the START is on record
    }
    runtime.queue.enqueue_job(late)
    run_jobs()
    question = next(m for m in messages_to(runtime, HOUSEHOLD) if m.kind == "question")
    send_message(question.id)  # RQ's retry of the send

    assert {m.kind: m.status for m in messages_to(runtime, HOUSEHOLD)}["question"] == (
        MessageStatus.RECORDED
    )


def test_a_list_import_waiting_when_redis_was_wiped_is_queued_again_by_a_worker(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    from gateway.campaigns.models import CampaignImport, ImportStatus
    from tests.campaigns.test_campaigns import api_tokens

    token = api_tokens(runtime)["manager"]
    body = {"name": "Gao", "flow": "return_intention", "channel": "sms"}
    made = client.post(
        "/api/v1/campaigns",
        json=body | {"contacts": [{"phone": n} for n in numbers(3)]},
        headers=token,
    )
    assert made.status_code == 202
    wipe(runtime.redis)  # the import's job is gone with the rest

    restore_live_state(runtime)
    run_jobs()

    with runtime.sessions() as session:
        done = session.scalars(select(CampaignImport)).one()
        assert (done.status, done.accepted) == (ImportStatus.DONE, 3)
