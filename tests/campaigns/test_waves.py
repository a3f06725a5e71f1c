"""Repeating campaigns: the same audience invited again, a wave every few days.

A weekly survey of the same households: a household that completed wave 1 is invited to wave
2, once; a number that sent STOP in between is not; a cancelled campaign opens no more waves;
and two workers due to open the same wave open it once. Jobs run in a real RQ worker on the
test Redis and database, with a fake clock for the fan-out's hours and the wave's due time.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from flask.testing import FlaskClient
from sqlalchemy import func, inspect, select, text, update

from gateway.campaigns.definition import CampaignError
from gateway.campaigns.lifecycle import cancel_campaign, pause_campaign, start_campaign
from gateway.campaigns.models import Campaign, CampaignContact, CampaignStatus, ContactStatus
from gateway.campaigns.queue import CampaignJobs
from gateway.campaigns.services import open_due_waves
from gateway.campaigns.waves import open_wave
from gateway.core.clock import utc_now
from gateway.core.db import alembic_config, make_engine, upgrade
from gateway.core.runtime import Runtime
from gateway.messaging.models import Message
from gateway.results.export import write_export
from gateway.staff.audit import CLI_ACTOR, WORKER_ACTOR
from gateway.staff.models import AuditEvent
from tests.campaigns.test_campaigns import (
    CONSENT_FR,
    INVITATION_FR,
    MORNING,
    SMS_SURVEY,
    FakeClock,
    api_tokens,
    change,
    invitations,
    new_campaign,
    numbers,
    staff,
    the_campaign,
    work,
)
from tests.phone import FULL_SURVEY_RETURN, Phone, SmsPhone

WEEK = timedelta(days=7)
ALREADY_DONE = "END Merci, vous avez deja repondu a ce sondage."  # USSD screens are ASCII


def start_at_morning(runtime: Runtime, campaign_id: str, at: datetime = MORNING) -> None:
    """Start the campaign as if it were yesterday morning (or ``at``): wave 2 is due a week
    after."""
    with runtime.sessions.begin() as session:
        campaign = start_campaign(session, campaign_id, actor=CLI_ACTOR, now=at)
    CampaignJobs(runtime.queue).after_change(campaign)


def open_waves_job(runtime: Runtime, clock: FakeClock) -> None:
    """The workers' periodic wave opener, run at the clock's time, and what it queues."""
    runtime.queue.enqueue("workers.maintenance.open_waves")
    work(runtime, clock)


def invited(runtime: Runtime, campaign_id: str) -> dict[str, int]:
    """How many of the campaign's invitations reached the outbox, by pseudonym."""
    with runtime.sessions() as session:
        rows = session.execute(
            select(CampaignContact.respondent_id, func.count())
            .join(Message, Message.id == CampaignContact.message_id)
            .where(CampaignContact.campaign_id == campaign_id)
            .group_by(CampaignContact.respondent_id)
        ).all()
    return {respondent: count for respondent, count in rows}


def waves_of(runtime: Runtime, campaign_id: str) -> dict[int, dict[str, ContactStatus]]:
    """Each wave's contacts: pseudonym -> status."""
    with runtime.sessions() as session:
        rows = session.execute(
            select(CampaignContact.wave, CampaignContact.respondent_id, CampaignContact.status)
            .where(CampaignContact.campaign_id == campaign_id)
            .order_by(CampaignContact.id)
        ).all()
    found: dict[int, dict[str, ContactStatus]] = {}
    for wave, respondent, status in rows:
        found.setdefault(wave, {})[respondent] = status
    return found


def two_waves_sent_once(runtime: Runtime) -> tuple[str, list[str]]:
    """A campaign of two numbers and two waves, its first wave sent; its id and numbers."""
    audience = numbers(2)
    campaign_id, _ = new_campaign(runtime, audience, repeat_days=7, repeat_waves=2)
    start_at_morning(runtime, campaign_id)
    work(runtime, FakeClock(MORNING))
    return campaign_id, audience


def test_a_household_that_completed_wave_1_is_invited_to_wave_2_once(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    campaign_id, (completes, silent) = two_waves_sent_once(runtime)
    phone = SmsPhone(client, runtime, run_jobs, number=completes)
    assert phone.replies() == [CONSENT_FR]
    for answer in SMS_SURVEY:
        phone.send(answer)
    pseudonym = runtime.services.pseudonymise(completes)

    # Between waves: every invitation is out, and the campaign waits for its next wave.
    waiting = the_campaign(runtime, campaign_id)
    assert waiting.status is CampaignStatus.RUNNING
    assert (waiting.wave, waiting.next_wave_at) == (1, MORNING + WEEK)
    open_waves_job(runtime, FakeClock(MORNING + WEEK - timedelta(minutes=1)))
    assert list(waves_of(runtime, campaign_id)) == [1]  # not due yet

    due = FakeClock(MORNING + WEEK)
    open_waves_job(runtime, due)
    open_waves_job(runtime, due)  # run again (a second worker, a retry): nothing more
    assert phone.replies() == [CONSENT_FR]
    assert invited(runtime, campaign_id) == {
        pseudonym: 2,
        runtime.services.pseudonymise(silent): 2,
    }
    assert waves_of(runtime, campaign_id)[2] == {
        pseudonym: ContactStatus.SENT,
        runtime.services.pseudonymise(silent): ContactStatus.SENT,
    }
    # Wave 2 was the last: once it is out, the campaign is completed.
    ended = the_campaign(runtime, campaign_id)
    assert (ended.status, ended.wave, ended.next_wave_at) == (CampaignStatus.COMPLETED, 2, None)
    with runtime.sessions() as session:
        opened = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "campaign.wave")
        ).all()
    assert [(e.actor, e.detail) for e in opened] == [(WORKER_ACTOR, "wave 2")]

    # The household answers wave 2 too: two completed runs, one per wave.
    for answer in SMS_SURVEY[:-1]:
        phone.send(answer)
    assert phone.send(SMS_SURVEY[-1])[0].startswith("OIM/DNDS: merci, vos reponses")
    with runtime.sessions() as session:
        runs = session.scalars(
            select(CampaignContact.run_id)
            .where(CampaignContact.respondent_id == pseudonym)
            .order_by(CampaignContact.wave)
        ).all()
    assert len(set(runs)) == 2 and None not in runs

    # The export says which wave each answer belongs to.
    out = io.StringIO(newline="")
    with runtime.sessions() as session:
        write_export(session, runtime.flows["return_intention"], "csv", out, utc_now())
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    mine = [(r["campaign"], r["wave"], r["status"]) for r in rows if r["respondent"] == pseudonym]
    assert mine == [(campaign_id, "1", "completed"), (campaign_id, "2", "completed")]


def test_a_number_that_stops_between_waves_is_not_invited_to_the_next(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    stays, leaves = numbers(2)
    campaign_id, _ = new_campaign(runtime, [stays, leaves], repeat_days=7, repeat_waves=3)
    start_at_morning(runtime, campaign_id)
    work(runtime, FakeClock(MORNING))
    assert SmsPhone(client, runtime, run_jobs, number=leaves).send("STOP")[-1] == (
        "Merci. Vous ne recevrez plus de messages de ce sondage."
    )
    # Redis' copy of the opt-out lost: the fan-out checks the database's record.
    runtime.redis.flushdb()

    open_waves_job(runtime, FakeClock(MORNING + WEEK))

    assert invited(runtime, campaign_id) == {
        runtime.services.pseudonymise(stays): 2,
        runtime.services.pseudonymise(leaves): 1,
    }
    assert waves_of(runtime, campaign_id)[2][runtime.services.pseudonymise(leaves)] is (
        ContactStatus.OPTED_OUT
    )
    # Three waves in all: the third is a week after the second.
    assert the_campaign(runtime, campaign_id).next_wave_at == MORNING + 2 * WEEK


@pytest.mark.parametrize("action", [cancel_campaign, pause_campaign])
def test_a_cancelled_or_paused_campaign_opens_no_wave(
    runtime: Runtime, action: Callable[..., Campaign]
) -> None:
    campaign_id, _ = new_campaign(runtime, numbers(3), repeat_days=7, repeat_waves=4)
    start_at_morning(runtime, campaign_id)
    work(runtime, FakeClock(MORNING))
    change(runtime, action, campaign_id)

    open_waves_job(runtime, FakeClock(MORNING + 3 * WEEK))

    assert list(waves_of(runtime, campaign_id)) == [1]
    assert set(invitations(runtime).values()) == {1}


def test_two_workers_opening_the_same_wave_open_it_once(runtime: Runtime) -> None:
    campaign_id, _ = new_campaign(runtime, numbers(4), repeat_days=7, repeat_waves=3)
    start_at_morning(runtime, campaign_id)
    work(runtime, FakeClock(MORNING))
    due = MORNING + WEEK

    # Both read the campaign as due for wave 2 before either opens it.
    with runtime.sessions() as first, runtime.sessions() as second:
        mine, theirs = first.get(Campaign, campaign_id), second.get(Campaign, campaign_id)
        assert mine is not None and theirs is not None
        assert open_wave(first, mine, due, actor=WORKER_ACTOR) == 2
        first.commit()
        assert open_wave(second, theirs, due, actor=WORKER_ACTOR) is None
        second.commit()
    assert open_due_waves(runtime, WORKER_ACTOR, due) == []

    assert {wave: len(c) for wave, c in waves_of(runtime, campaign_id).items()} == {1: 4, 2: 4}


def test_a_wave_opened_late_keeps_to_the_schedule(runtime: Runtime) -> None:
    campaign_id, _ = new_campaign(runtime, numbers(1), repeat_days=7, repeat_waves=5)
    start_at_morning(runtime, campaign_id)
    # The workers were away for two and a half weeks: one wave opens, not two at once.
    late = MORNING + 2 * WEEK + timedelta(days=3)
    assert open_due_waves(runtime, WORKER_ACTOR, late) == [(campaign_id, 2)]
    campaign = the_campaign(runtime, campaign_id)
    assert (campaign.wave, campaign.next_wave_at) == (2, MORNING + 3 * WEEK)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"repeat_waves": 1}, "the number of waves must be from 2 to 104, not 1"),
        (
            {"repeat_waves": 3, "repeat_days": 0},
            "the days between waves must be from 1 to 90, not 0",
        ),
        (
            {"repeat_waves": 3, "repeat_until": datetime(2020, 1, 1)},
            "the last wave's date 2020-01-01 must be after today",
        ),
    ],
)
def test_a_repeat_out_of_bounds_is_refused(
    runtime: Runtime, options: dict[str, object], message: str
) -> None:
    with pytest.raises(CampaignError) as refused:
        new_campaign(runtime, numbers(1), **options)
    assert message in str(refused.value)


def test_the_api_and_the_terminal_ask_for_a_repeat_and_say_where_its_waves_stand(
    client: FlaskClient, runtime: Runtime, tmp_path: Path
) -> None:
    token = api_tokens(runtime)["manager"]
    body = {
        "name": "Gao, chaque semaine",
        "flow": "return_intention",
        "channel": "sms",
        "repeat_waves": 4,
        "repeat_until": "2099-01-01",
        "contacts": [{"phone": n} for n in numbers(2)],
    }
    refused = client.post("/api/v1/campaigns", json=body, headers=token)
    assert refused.status_code == 422
    assert "the last wave's date 2099-01-01 must be after today" in refused.get_json()["message"]

    body["repeat_until"] = (date.today() + timedelta(days=60)).isoformat()
    created = client.post("/api/v1/campaigns", json=body, headers=token)
    assert created.status_code == 202, created.get_json()
    campaign = created.get_json()["campaign"]
    assert (campaign["repeat_days"], campaign["repeat_waves"], campaign["wave"]) == (7, 4, 1)
    assert campaign["repeat_until"].startswith(body["repeat_until"])

    audience = tmp_path / "liste.csv"
    audience.write_text("phone\n" + "\n".join(numbers(2, first=40)) + "\n")
    made = staff(
        runtime,
        *("create", "--name", "Gao", "--flow", "return_intention", "--channel", "sms"),
        *("--audience", str(audience), "--repeat-waves", "3", "--repeat-days", "14"),
    )
    assert made.exit_code == 0, made.output
    short = made.output.split()[1]
    assert "5/s; every 14 days, 3 waves: wave 1\n" in made.output
    staff(runtime, "start", short)
    status = staff(runtime, "status", short).output.splitlines()[0]
    assert re.search(r"; every 14 days, 3 waves: wave 1, next \d{4}-\d\d-\d\dT", status)
    bad = staff(
        runtime,
        *("create", "--name", "Gao", "--flow", "return_intention", "--channel", "sms"),
        *("--audience", str(audience), "--repeat-waves", "200"),
    )
    assert bad.exit_code == 1 and "the number of waves must be from 2 to 104, not 200" in bad.output


def test_a_wave_resent_after_a_worker_died_texts_nobody_twice(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    campaign_id, (completes, _) = two_waves_sent_once(runtime)
    phone = SmsPhone(client, runtime, run_jobs, number=completes)
    open_waves_job(runtime, FakeClock(MORNING + WEEK))
    phone.replies()
    for answer in SMS_SURVEY:
        phone.send(answer)  # completes the run wave 2 started (wave 1's is answered too)
    with runtime.sessions() as session:
        messages = session.scalar(select(func.count()).select_from(Message))
        before = dict(
            session.execute(
                select(CampaignContact.id, CampaignContact.run_id).where(CampaignContact.wave == 2)
            ).all()
        )
    # As a worker killed after sending wave 2 leaves it: claimed, invitations out, unmarked.
    with runtime.sessions.begin() as session:
        session.execute(
            update(CampaignContact)
            .where(CampaignContact.wave == 2)
            .values(status=ContactStatus.SENDING, run_id=None, message_id=None, sent_at=None)
        )
        session.execute(
            update(Campaign).where(Campaign.id == campaign_id).values(status=CampaignStatus.RUNNING)
        )

    CampaignJobs(runtime.queue).fan_out(campaign_id)  # RQ retrying the killed job
    work(runtime, FakeClock(MORNING + WEEK))

    assert phone.replies() == []
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Message)) == messages
        after = session.execute(
            select(CampaignContact.id, CampaignContact.run_id, CampaignContact.status).where(
                CampaignContact.wave == 2
            )
        ).all()
    assert {contact: run for contact, run, _ in after} == before
    assert {status for _, _, status in after} == {ContactStatus.SENT}


def test_migration_0009_puts_every_contact_in_wave_1_and_downgrades_to_one_wave(
    database_url: str,
) -> None:
    upgrade(database_url, "0008")
    engine = make_engine(database_url)
    contact = (
        "INSERT INTO campaign_contacts (campaign_id, {wave}row_number, respondent_id,"
        " phone_encrypted, phone_masked, status) VALUES ('c1', {value}2, 'r1', 'x', '**1',"
        " 'sent')"
    )
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO campaigns (id, name, flow, channel, status, window_start,"
                    " window_end, timezone, throttle, reminder_count, reminder_interval_hours,"
                    " expiry_hours, created_by, created_at) VALUES ('c1', 'n', 'f', 'sms',"
                    " 'completed', '08:00:00', '19:00:00', 'UTC', 1, 0, 1, 1, 'cli',"
                    " CURRENT_TIMESTAMP)"
                )
            )
            connection.execute(text(contact.format(wave="", value="")))
        upgrade(engine, "0009")
        with engine.begin() as connection:
            assert connection.execute(text("SELECT wave, repeat_days FROM campaigns")).one() == (
                1,
                None,
            )
            assert connection.execute(text("SELECT wave FROM campaign_contacts")).scalar() == 1
            # The same number again, in a second wave: one row per wave.
            connection.execute(text(contact.format(wave="wave, ", value="2, ")))

        with engine.begin() as connection:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.downgrade(config, "0008")

        with engine.connect() as connection:
            left = connection.execute(text("SELECT respondent_id FROM campaign_contacts")).all()
        assert left == [("r1",)]
        assert "wave" not in {c["name"] for c in inspect(engine).get_columns("campaigns")}
    finally:
        engine.dispose()


def test_a_ussd_household_that_completed_wave_1_can_answer_wave_2_once(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    number = numbers(1)[0]
    campaign_id, _ = new_campaign(
        runtime, [number], channel="ussd", repeat_days=7, repeat_waves=2, reminder_count=0
    )
    # Wave 1 a week before yesterday, wave 2 yesterday: the runs the household starts by
    # dialling (now) come after each wave's invitation, and are linked to it.
    start_at_morning(runtime, campaign_id, MORNING - WEEK)
    work(runtime, FakeClock(MORNING - WEEK))
    sms = SmsPhone(client, runtime, run_jobs, number=number)
    assert sms.replies() == [INVITATION_FR]
    handset = Phone(client, number=number)
    handset.dial()
    assert handset.answer_all(FULL_SURVEY_RETURN)[-1].startswith("END Merci.")
    run_jobs()
    assert handset.dial() == ALREADY_DONE

    open_waves_job(runtime, FakeClock(MORNING))
    assert sms.replies()[-1] == INVITATION_FR  # after wave 1's confirmation
    assert handset.dial().startswith("CON ")  # asked again
    assert handset.answer_all(FULL_SURVEY_RETURN)[-1].startswith("END Merci.")
    run_jobs()
    assert handset.dial() == ALREADY_DONE

    pseudonym = runtime.services.pseudonymise(number)
    assert invited(runtime, campaign_id) == {pseudonym: 2}
    with runtime.sessions() as session:
        runs = session.scalars(
            select(CampaignContact.run_id)
            .where(CampaignContact.campaign_id == campaign_id)
            .order_by(CampaignContact.wave)
        ).all()
    assert len(set(runs)) == 2 and None not in runs  # each wave's answers, its own run
