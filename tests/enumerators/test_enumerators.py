"""Enumerators register by SMS, a supervisor approves them, and they survey households by USSD.

The registration run is driven through the engine and the Redis store exactly as the SMS channel
leaves it, then stored by the real sync job. Decisions go through the ``enumerators`` command;
the USSD side through ``/ussd`` as AT posts it.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner, Result
from flask.testing import FlaskClient
from sqlalchemy import select

from flows import build_flow, resume, start
from gateway.cli.enumerators import enumerators
from gateway.core.runtime import Runtime
from gateway.core.settings import Settings
from gateway.enumerators.models import Enumerator, EnumeratorStatus
from gateway.messaging.models import Message, MessageStatus
from gateway.results.export import export_csv
from gateway.staff.models import AuditEvent
from gateway.surveys.models import StoredAnswer, Submission, SubmissionStatus
from handlers.ports import Channel, RunRecord
from tests.commands import command_env
from tests.phone import FULL_SURVEY_RETURN, Phone, SmsPhone

ENUMERATOR = "+22365123478"
ENUMERATOR_MASKED = "+22365****78"
HOUSEHOLD_TYPED = "76 55 44 33"  # as an enumerator types it in Mali, without +223
HOUSEHOLD = "+22376554433"
HOUSEHOLD_MASKED = "+22376****33"
# full name, region 5 = Mopti, site
REGISTRATION = ["Awa Traore", "5", "Sevare"]
CODE = re.compile(r"ENQ-[0-9A-HJKMNP-TV-Z]{4}")

FIRST_SCREEN_FR = (
    "CON OIM/DNDS: sondage volontaire et gratuit sur les menages deplaces. "
    "Reponses confidentielles, sans effet sur l'aide.\n"
    "1. J'accepte\n"
    "2. Non\n"
    "9. English"
)
THANKS_FR = "END Merci. Vos reponses sont enregistrees. Pour effacer vos donnees, envoyez EFFACER."


# -- helpers ------------------------------------------------------------------------------


def register(
    runtime: Runtime,
    run_jobs: Callable[..., int],
    number: str = ENUMERATOR,
    answers: list[str] = REGISTRATION,
    language: str = "fr",
) -> str:
    """Answer the registration flow as the SMS channel runs it, then let the workers store it."""
    flow = runtime.flows["enumerator_registration"]
    now = datetime.now(UTC)
    step = start(flow, run_id=runtime.services.new_id(), language=language, now=now)
    for answer in answers:
        step = resume(flow, step.state, answer, now=now)
    record = RunRecord(
        state=step.state,
        respondent=runtime.services.pseudonymise(number),
        channel=Channel.SMS.value,
        phone_token=runtime.cipher.encrypt(number),
    )
    runtime.store.save_run(record)
    runtime.jobs.sync_run(step.state.run_id, step.state.seq)
    run_jobs()
    return step.state.run_id


def supervisor(runtime: Runtime, settings: Settings, *args: str) -> Result:
    """Run ``survey-gateway enumerators ...`` as a supervisor at a terminal would."""
    env = command_env(settings, runtime)
    return CliRunner().invoke(enumerators, list(args), env=env, catch_exceptions=False)


def the_enumerator(runtime: Runtime, number: str = ENUMERATOR) -> Enumerator:
    with runtime.sessions() as session:
        pseudonym = runtime.services.pseudonymise(number)
        return session.scalars(
            select(Enumerator).where(Enumerator.respondent_id == pseudonym)
        ).one()


def approved_code(runtime: Runtime, settings: Settings) -> str:
    """Approve the one pending enumerator by the id shown in the list; return their code."""
    listing = supervisor(runtime, settings, "list", "--status", "pending")
    short_id = listing.output.splitlines()[1].split()[0]
    result = supervisor(runtime, settings, "approve", short_id)
    assert result.exit_code == 0, result.output
    code = the_enumerator(runtime).code
    assert code is not None
    return code


def messages(runtime: Runtime, kind: str | None = None) -> list[Message]:
    with runtime.sessions() as session:
        stmt = select(Message).order_by(Message.created_at)
        if kind is not None:
            stmt = stmt.where(Message.kind == kind)
        return list(session.scalars(stmt))


def survey_submissions(runtime: Runtime) -> list[Submission]:
    with runtime.sessions() as session:
        return list(
            session.scalars(
                select(Submission)
                .where(Submission.flow == "return_intention")
                .order_by(Submission.started_at)
            )
        )


# -- registration -------------------------------------------------------------------------


def test_a_completed_registration_is_stored_pending_and_listed_masked(
    runtime: Runtime, settings: Settings, run_jobs: Callable[..., int]
) -> None:
    run_id = register(runtime, run_jobs)

    enumerator = the_enumerator(runtime)
    assert enumerator.status is EnumeratorStatus.PENDING
    assert (enumerator.full_name, enumerator.region, enumerator.site) == (
        "Awa Traore",
        "mopti",
        "Sevare",
    )
    assert enumerator.code is None and enumerator.run_id == run_id
    assert enumerator.phone_masked == ENUMERATOR_MASKED
    assert runtime.cipher.decrypt(enumerator.phone_encrypted) == ENUMERATOR
    # The registration flow has no confirmation text: nothing is sent until a decision.
    assert messages(runtime) == []
    assert runtime.store.enumerator_code(enumerator.respondent_id) is None

    listing = supervisor(runtime, settings, "list")
    assert listing.exit_code == 0, listing.output
    header, row = listing.output.splitlines()
    assert header.split()[:4] == ["ID", "STATUS", "CODE", "PHONE"]
    assert row.split()[:6] == [
        enumerator.id[:8],
        "pending",
        "-",
        ENUMERATOR_MASKED,
        "mopti",
        "Sevare",
    ]
    assert "Awa Traore" in row
    assert "65123478" not in listing.output
    assert supervisor(runtime, settings, "list", "--status", "approved").output == (
        "No approved enumerators.\n"
    )


def test_an_enumerator_registers_by_sms_and_gets_the_code_by_sms(
    client: FlaskClient, runtime: Runtime, settings: Settings, run_jobs: Callable[..., int]
) -> None:
    phone = SmsPhone(client, runtime, run_jobs, number=ENUMERATOR)

    assert phone.send("inscription") == ["Votre nom complet?"]
    (region,) = phone.send("Awa Traore")
    lines = region.splitlines()
    assert lines[0] == "Dans quelle région travaillez-vous?"
    assert len(lines) == 13 and "Kayes" in lines[1] and "Autre" in lines[12]
    assert phone.send("mopti") == [
        "Nom du site ou du point de suivi des flux (ex: Bamako, Mopti, Gao, Tombouctou)?"
    ]
    # SITE starts a site assessment, but here a question waits for text: it is the answer.
    assert phone.send("Site Sevare") == [
        "Merci. Votre inscription sera validée par un superviseur."
    ]

    enumerator = the_enumerator(runtime)
    assert enumerator.status is EnumeratorStatus.PENDING
    assert (enumerator.full_name, enumerator.region, enumerator.site) == (
        "Awa Traore",
        "mopti",
        "Site Sevare",
    )
    code = approved_code(runtime, settings)
    assert phone.replies() == [
        f"OIM/DNDS: votre inscription d'enqueteur est validee. Votre code: {code}."
    ]


def test_a_registration_whose_name_holds_control_characters_is_stored(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    phone = SmsPhone(client, runtime, run_jobs, number=ENUMERATOR)

    assert phone.send("inscription") == ["Votre nom complet?"]
    # A NUL (how a badly decoded GSM "@" can arrive) and a terminal escape: PostgreSQL refuses
    # the first in text, and neither belongs in a name.
    phone.send("Awa\x00 Traore\x1b")
    phone.send("mopti")
    assert phone.send("Sevare\r\n") == ["Merci. Votre inscription sera validée par un superviseur."]

    enumerator = the_enumerator(runtime)
    assert enumerator.status is EnumeratorStatus.PENDING
    assert (enumerator.full_name, enumerator.region, enumerator.site) == (
        "Awa Traore",
        "mopti",
        "Sevare",
    )


def test_the_same_run_registers_once_and_a_new_one_updates_a_pending_registration(
    runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    run_id = register(runtime, run_jobs)
    runtime.jobs.sync_run(run_id, 99)  # the job again, as a retry would run it
    run_jobs()

    second = register(runtime, run_jobs, answers=["Awa Traore Diallo", "11", "Bamako centre"])

    enumerator = the_enumerator(runtime)  # still one row for the pseudonym
    assert enumerator.status is EnumeratorStatus.PENDING
    assert (enumerator.full_name, enumerator.region, enumerator.site, enumerator.run_id) == (
        "Awa Traore Diallo",
        "bamako",
        "Bamako centre",
        second,
    )


def test_a_flow_needs_no_confirmation_text(runtime: Runtime) -> None:
    flow = runtime.flows["enumerator_registration"]
    assert "confirmation" not in flow.texts
    assert flow.keywords == ("INSCRIPTION", "REG")
    assert flow.question_keys == ("full_name", "region", "site")
    assert [o.code for o in flow.question("region").options] == [
        o.code for o in runtime.flows["return_intention"].question("current_region").options
    ]
    raw = {
        "id": "mini",
        "version": 1,
        "name": "Mini",
        "languages": {"fr": "Francais"},
        "default_language": "fr",
        "questions": [{"key": "name", "type": "text", "min": 1, "max": 9, "text": "Nom?"}],
        "endings": {"completed": {"status": "completed", "text": "Merci."}},
        "texts": {
            name: name
            for name in (
                "invalid",
                "invalid_number",
                "too_short",
                "too_long",
                "already_done",
                "resume",
                "resume_continue",
                "resume_restart",
                "more",
                "back",
                "reminder",
            )
        },
    }
    assert "confirmation" not in build_flow(raw).texts


# -- decisions ----------------------------------------------------------------------------


def test_approval_gives_a_code_and_texts_it_to_the_enumerator(
    runtime: Runtime,
    settings: Settings,
    run_jobs: Callable[..., int],
    outbox_stream: io.StringIO,
) -> None:
    register(runtime, run_jobs)
    enumerator = the_enumerator(runtime)

    result = supervisor(runtime, settings, "approve", enumerator.id[:8])

    assert result.exit_code == 0, result.output
    enumerator = the_enumerator(runtime)
    assert enumerator.status is EnumeratorStatus.APPROVED
    assert enumerator.code is not None and CODE.fullmatch(enumerator.code)
    assert enumerator.decided_at is not None
    assert f"Approved with code {enumerator.code}" in result.output
    assert ENUMERATOR_MASKED in result.output and "65123478" not in result.output
    assert runtime.store.enumerator_code(enumerator.respondent_id) == enumerator.code

    run_jobs()

    (sms,) = messages(runtime)
    assert sms.kind == "enumerator_approved"
    assert sms.status is MessageStatus.RECORDED
    assert sms.to_masked == ENUMERATOR_MASKED
    assert sms.body == (
        f"OIM/DNDS: votre inscription d'enqueteur est validee. Votre code: {enumerator.code}."
    )
    assert f"SMS to {ENUMERATOR_MASKED}: OIM/DNDS: votre inscription" in outbox_stream.getvalue()

    # Approving again (by code, typed loosely) changes nothing and sends nothing more.
    again = supervisor(runtime, settings, "approve", enumerator.code.lower().replace("-", " "))
    assert again.exit_code == 0, again.output
    assert "Already approved" in again.output
    run_jobs()
    assert len(messages(runtime)) == 1
    assert the_enumerator(runtime).code == enumerator.code
    # The decision is in the audit log, once: repeating it changed nothing.
    with runtime.sessions() as session:
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [(e.actor, e.action, e.object_id) for e in events] == [
        ("cli", "enumerator.approve", enumerator.id)
    ]


def test_the_approval_sms_is_in_the_enumerators_language(
    runtime: Runtime, settings: Settings, run_jobs: Callable[..., int]
) -> None:
    register(runtime, run_jobs, language="en")
    code = approved_code(runtime, settings)
    run_jobs()

    (sms,) = messages(runtime)
    assert sms.body == f"IOM/DNDS: your enumerator registration is confirmed. Your code: {code}."


def test_decisions_that_cannot_be_made_are_refused(
    runtime: Runtime, settings: Settings, run_jobs: Callable[..., int]
) -> None:
    register(runtime, run_jobs)
    short_id = the_enumerator(runtime).id[:8]

    unknown = supervisor(runtime, settings, "approve", "ENQ-0000")
    assert unknown.exit_code == 1
    assert "no enumerator has the code or id 'ENQ-0000'" in unknown.output
    pending = supervisor(runtime, settings, "revoke", short_id)
    assert pending.exit_code == 1
    assert "only an approved enumerator can be revoked (use reject)" in pending.output

    code = approved_code(runtime, settings)
    approved = supervisor(runtime, settings, "reject", code)
    assert approved.exit_code == 1
    assert "(use revoke)" in approved.output
    assert the_enumerator(runtime).status is EnumeratorStatus.APPROVED


# -- USSD ---------------------------------------------------------------------------------


def test_an_approved_enumerator_sees_the_menu_and_their_code(
    client: FlaskClient, runtime: Runtime, settings: Settings, run_jobs: Callable[..., int]
) -> None:
    register(runtime, run_jobs)
    code = approved_code(runtime, settings)
    phone = Phone(client, number=ENUMERATOR)

    assert phone.dial() == (
        f"CON Enqueteur {code}\n1. Enqueter un menage\n2. Mon code"
        "\n3. Suivi des flux\n4. Evaluation de site"
    )
    assert phone.send("7") == (
        f"CON Non compris: envoyez un numero.\nEnqueteur {code}\n1. Enqueter un menage\n2. Mon code"
        "\n3. Suivi des flux\n4. Evaluation de site"
    )
    assert phone.send("2") == f"END Votre code enqueteur: {code}"


def test_the_menu_follows_the_enumerators_language(
    client: FlaskClient, runtime: Runtime, settings: Settings, run_jobs: Callable[..., int]
) -> None:
    register(runtime, run_jobs, language="en")
    code = approved_code(runtime, settings)
    runtime.store.set_language(runtime.services.pseudonymise(ENUMERATOR), "en")
    phone = Phone(client, number=ENUMERATOR)

    assert phone.dial() == (
        f"CON Enumerator {code}\n1. Survey a household\n2. My code"
        "\n3. Flow monitoring\n4. Site assessment"
    )
    assert phone.send("1") == "CON Household's phone number?"


def test_an_enumerator_surveys_a_household_for_it(
    client: FlaskClient,
    runtime: Runtime,
    settings: Settings,
    run_jobs: Callable[..., int],
    outbox_stream: io.StringIO,
) -> None:
    register(runtime, run_jobs)
    code = approved_code(runtime, settings)
    run_jobs()  # the approval SMS
    phone = Phone(client, number=ENUMERATOR)
    phone.dial()

    assert phone.send("1") == "CON Numero de telephone du menage?"
    assert phone.send("12") == "CON Numero non reconnu.\nNumero de telephone du menage?"
    assert phone.send(HOUSEHOLD_TYPED) == FIRST_SCREEN_FR
    screens = phone.answer_all(FULL_SURVEY_RETURN)
    assert screens[0].startswith("CON Region ou vit votre menage maintenant?")
    assert screens[-1] == THANKS_FR
    assert phone.resend() == THANKS_FR  # AT re-sending the last step: same screen

    # The typed number is kept nowhere in clear in the live state, not even in the session.
    live = b"".join(
        runtime.redis.get(key) or b""
        for key in runtime.redis.scan_iter("sg:*")
        if runtime.redis.type(key) == b"string"
    )
    assert b"ATUid_test" in live  # the USSD session is among them
    for digits in (b"76 55 44 33", b"76554433", b"55 44"):
        assert digits not in live

    run_jobs()

    (stored,) = survey_submissions(runtime)
    assert stored.status is SubmissionStatus.COMPLETED
    assert stored.respondent_id == runtime.services.pseudonymise(HOUSEHOLD)
    assert stored.enumerator_code == code
    assert stored.channel == "ussd"
    with runtime.sessions() as session:
        answers = session.scalars(
            select(StoredAnswer).where(StoredAnswer.submission_id == stored.id)
        )
        assert {a.key: a.value for a in answers}["current_region"] == "bamako"
    (confirmation,) = messages(runtime, "confirmation")
    assert confirmation.to_masked == HOUSEHOLD_MASKED
    assert runtime.cipher.decrypt(confirmation.to_encrypted) == HOUSEHOLD
    assert stored.reference is not None and stored.reference in confirmation.body
    assert f"SMS to {HOUSEHOLD_MASKED}: OIM/DNDS: merci" in outbox_stream.getvalue()

    out = io.StringIO(newline="")
    flow = runtime.flows["return_intention"]
    with runtime.sessions() as session:
        export_csv(session, flow.id, flow.question_keys, out, datetime.now(UTC))
    header, row = (line.split(",") for line in out.getvalue().splitlines())
    assert header[:7] == [
        "submission_id",
        "respondent",
        "flow",
        "flow_version",
        "channel",
        "enumerator",
        "language",
    ]
    assert row[1] == runtime.services.pseudonymise(HOUSEHOLD)
    assert row[5] == code

    # The household itself has answered now; so has the enumerator, for it.
    assert Phone(client, number=HOUSEHOLD).dial() == (
        "END Merci, vous avez deja repondu a ce sondage."
    )
    phone.dial()
    phone.send("1")
    assert phone.send(HOUSEHOLD) == "END Merci, vous avez deja repondu a ce sondage."


def test_a_number_typed_before_the_session_was_known_is_not_kept_in_clear(
    client: FlaskClient, runtime: Runtime, settings: Settings, run_jobs: Callable[..., int]
) -> None:
    register(runtime, run_jobs)
    code = approved_code(runtime, settings)
    phone = Phone(client, number=ENUMERATOR)
    # Our record of the session expired after the number was typed (or it was dialled
    # directly with the number in the code): AT's first request we see has it in ``text``.
    phone.session_id = "ATUid_expired"
    phone.typed = ["1", HOUSEHOLD_TYPED]

    assert phone.resend() == (
        f"CON Enqueteur {code}\n1. Enqueter un menage\n2. Mon code"
        "\n3. Suivi des flux\n4. Evaluation de site"
    )
    assert phone.send("1") == "CON Numero de telephone du menage?"
    assert phone.send(HOUSEHOLD_TYPED) == FIRST_SCREEN_FR

    assert phone.send("1").startswith("CON Region ou vit votre menage maintenant?")

    stored = runtime.redis.get("sg:ussd:ATUid_expired")
    assert stored is not None
    for digits in (b"76 55 44 33", b"76554433", b"55 44"):
        assert digits not in stored
    last_text = json.loads(stored)["last_text"]
    assert not set("76554433") & set(last_text), last_text


def test_an_enumerator_can_take_over_a_households_unfinished_run(
    client: FlaskClient, runtime: Runtime, settings: Settings, run_jobs: Callable[..., int]
) -> None:
    register(runtime, run_jobs)
    code = approved_code(runtime, settings)
    household = Phone(client, number=HOUSEHOLD)
    household.dial()
    household.answer_all(["1", "11", "5"])  # then the session drops

    phone = Phone(client, number=ENUMERATOR)
    phone.dial()
    phone.send("1")
    assert phone.send(HOUSEHOLD_TYPED) == (
        "CON Vous avez un sondage en cours.\n1. Continuer\n2. Recommencer"
    )
    assert phone.send("1").startswith("CON Combien de personnes vivent dans votre menage")
    assert phone.answer_all(FULL_SURVEY_RETURN[3:])[-1] == THANKS_FR
    run_jobs()

    (stored,) = survey_submissions(runtime)
    assert stored.respondent_id == runtime.services.pseudonymise(HOUSEHOLD)
    assert stored.enumerator_code == code
    (confirmation,) = messages(runtime, "confirmation")
    assert confirmation.to_masked == HOUSEHOLD_MASKED


def test_a_revoked_enumerator_is_a_household_again(
    client: FlaskClient, runtime: Runtime, settings: Settings, run_jobs: Callable[..., int]
) -> None:
    register(runtime, run_jobs)
    code = approved_code(runtime, settings)
    phone = Phone(client, number=ENUMERATOR)
    assert phone.dial().startswith(f"CON Enqueteur {code}")

    result = supervisor(runtime, settings, "revoke", code)

    assert result.exit_code == 0, result.output
    assert f"Revoked: {code}" in result.output
    enumerator = the_enumerator(runtime)
    assert enumerator.status is EnumeratorStatus.REVOKED and enumerator.code == code
    assert runtime.store.enumerator_code(enumerator.respondent_id) is None
    assert phone.dial() == FIRST_SCREEN_FR
    assert phone.answer_all(FULL_SURVEY_RETURN)[-1] == THANKS_FR
    run_jobs()
    (stored,) = survey_submissions(runtime)
    assert stored.respondent_id == enumerator.respondent_id
    assert stored.enumerator_code is None
    assert messages(runtime, "confirmation")[0].to_masked == ENUMERATOR_MASKED

    # Approved again, they keep their code.
    assert supervisor(runtime, settings, "approve", code).exit_code == 0
    assert phone.dial().startswith(f"CON Enqueteur {code}")


@pytest.mark.parametrize("decision", ["pending", "rejected"])
def test_pending_and_rejected_enumerators_are_households(
    client: FlaskClient,
    runtime: Runtime,
    settings: Settings,
    run_jobs: Callable[..., int],
    decision: str,
) -> None:
    register(runtime, run_jobs)
    if decision == "rejected":
        result = supervisor(runtime, settings, "reject", the_enumerator(runtime).id[:8])
        assert result.exit_code == 0, result.output
        assert "rejected" in result.output
    assert the_enumerator(runtime).status == decision

    assert Phone(client, number=ENUMERATOR).dial() == FIRST_SCREEN_FR
