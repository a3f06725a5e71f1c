"""Retention removes the numbers and bodies it promises, and nothing else; keys rotate."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from cryptography.fernet import Fernet
from flask.testing import FlaskClient
from sqlalchemy import select, update

from gateway.campaigns.audience import import_audience, json_rows
from gateway.campaigns.definition import CampaignSpec, create_campaign
from gateway.campaigns.models import Campaign, CampaignContact
from gateway.core.clock import utc_now
from gateway.core.crypto import NumberCipher
from gateway.core.runtime import Runtime
from gateway.enumerators.models import Enumerator, EnumeratorStatus
from gateway.messaging.models import Message
from gateway.surveys.models import StoredAnswer, Submission
from gateway.surveys.retention import PURGED, purge, rotate_keys
from gateway.surveys.session_store import RedisSessionStore
from tests.phone import FULL_SURVEY_RETURN, Phone


def complete_survey(client: FlaskClient, number: str) -> None:
    phone = Phone(client, number=number)
    phone.dial()
    phone.answer_all(FULL_SURVEY_RETURN)


def campaign_with(runtime: Runtime, name: str, numbers: list[str]) -> str:
    with runtime.sessions.begin() as session:
        campaign = create_campaign(
            session,
            CampaignSpec(name=name, flow="return_intention", channel="sms"),
            runtime.flows,
            ussd_flow=runtime.settings.ussd_flow,
            actor="cli",
        )
        import_audience(
            session, runtime, campaign, json_rows([{"phone": n} for n in numbers]), actor="cli"
        )
        return campaign.id


def test_purge_blanks_old_numbers_and_bodies_and_keeps_answers(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    complete_survey(client, "+22376000001")
    complete_survey(client, "+22376000002")
    run_jobs()
    now = utc_now()
    with runtime.sessions.begin() as session:
        old, recent = session.scalars(select(Message).order_by(Message.to_masked)).all()
        old.created_at = now - timedelta(days=91)
        recent.created_at = now - timedelta(days=89)
        old_id, recent_id = old.id, recent.id
    old_campaign = campaign_with(runtime, "old", ["+22376000011", "+22376000012"])
    new_campaign = campaign_with(runtime, "new", ["+22376000013"])
    with runtime.sessions.begin() as session:
        session.execute(
            update(Campaign)
            .where(Campaign.id == old_campaign)
            .values(created_at=now - timedelta(days=200), finished_at=now - timedelta(days=100))
        )

    with runtime.sessions.begin() as session:
        report = purge(session, now, 90)

    assert (report.message_numbers, report.message_bodies, report.campaign_numbers) == (1, 1, 2)
    with runtime.sessions() as session:
        old_row, recent_row = session.get(Message, old_id), session.get(Message, recent_id)
        assert old_row is not None and recent_row is not None
        assert (old_row.to_encrypted, old_row.body) == (PURGED, PURGED)
        assert old_row.to_masked == "+22376****01"  # the masked form stays, for the outbox
        assert runtime.cipher.decrypt(recent_row.to_encrypted) == "+22376000002"
        contacts = session.scalars(select(CampaignContact)).all()
        kept = {c.campaign_id: c.phone_encrypted for c in contacts}
        assert kept[old_campaign] == PURGED
        assert runtime.cipher.decrypt(kept[new_campaign]) == "+22376000013"
        # Answers stay, under pseudonyms.
        assert session.scalar(select(Submission.id).limit(1)) is not None
        assert len(session.scalars(select(StoredAnswer)).all()) == 16

    with runtime.sessions.begin() as session:
        again = purge(session, now, 90)
    assert (again.message_numbers, again.message_bodies, again.campaign_numbers) == (0, 0, 0)


def test_purge_keeps_messages_still_on_their_way(runtime: Runtime) -> None:
    now = utc_now()
    with runtime.sessions.begin() as session:
        session.add(
            Message(
                respondent_id="r" * 64,
                kind="confirmation",
                to_encrypted=runtime.cipher.encrypt("+22376000003"),
                to_masked="+22376****03",
                body="queued long ago",
                created_at=now - timedelta(days=120),
            )
        )
    with runtime.sessions.begin() as session:
        assert purge(session, now, 90).message_numbers == 0


def test_purge_removes_numbers_of_old_rejected_enumerators_only(runtime: Runtime) -> None:
    now = utc_now()
    with runtime.sessions.begin() as session:
        for status, code in (
            (EnumeratorStatus.REJECTED, None),
            (EnumeratorStatus.APPROVED, "ENQ-1"),
        ):
            session.add(
                Enumerator(
                    respondent_id=status.value.ljust(64, "0"),
                    phone_encrypted=runtime.cipher.encrypt("+22376000004"),
                    phone_masked="+22376****04",
                    full_name="A B",
                    region="gao",
                    site="Gao",
                    status=status,
                    code=code,
                    run_id=status.value,
                    decided_at=now - timedelta(days=100),
                )
            )
    with runtime.sessions.begin() as session:
        assert purge(session, now, 90).enumerator_numbers == 1
    with runtime.sessions() as session:
        by_status = {e.status: e.phone_encrypted for e in session.scalars(select(Enumerator))}
    assert by_status[EnumeratorStatus.REJECTED] == PURGED
    assert runtime.cipher.decrypt(by_status[EnumeratorStatus.APPROVED]) == "+22376000004"


def test_key_rotation_reencrypts_everything_and_keeps_pseudonyms(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    complete_survey(client, "+22376000005")
    run_jobs()
    unfinished = Phone(client, number="+22376000006")
    unfinished.dial()
    unfinished.send("1")
    campaign_with(runtime, "c", ["+22376000007"])
    pseudonym = runtime.services.pseudonymise("+22376000005")

    new_key = Fernet.generate_key().decode()
    rotated = NumberCipher([new_key, *runtime.settings.encryption_keys])
    with runtime.sessions.begin() as session:
        report = rotate_keys(session, runtime.store, rotated)

    assert (report.messages, report.campaign_contacts, report.live) == (1, 1, 2)
    only_new = NumberCipher([new_key])  # the old key is retired
    with runtime.sessions() as session:
        message = session.scalars(select(Message)).one()
        contact = session.scalars(select(CampaignContact)).one()
        assert only_new.decrypt(message.to_encrypted) == "+22376000005"
        assert only_new.decrypt(contact.phone_encrypted) == "+22376000007"
        assert message.respondent_id == pseudonym
    store = RedisSessionStore(runtime.redis)
    tokens = [store.load_run(run_id) for run_id in store.run_ids()]
    assert sorted(only_new.decrypt(r.phone_token) for r in tokens if r) == [
        "+22376000005",
        "+22376000006",
    ]
