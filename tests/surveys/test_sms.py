"""Households answer by SMS: keywords, word answers, reminders, opt-out, erasure, channels."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from flask.testing import FlaskClient
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from flows.gsm7 import measure_sms
from gateway.core.runtime import Runtime
from gateway.messaging.models import Message
from gateway.surveys.models import OptOut, Respondent, Submission, SubmissionStatus
from gateway.web.webhooks.once import Take, take
from tests.phone import Phone, SmsPhone
from tests.reminders import make_reminders_due, pending_reminders

CONSENT_FR = (
    "OIM/DNDS: sondage volontaire et gratuit sur les ménages déplacés. Réponses "
    "confidentielles, sans effet sur l'aide.\n1.J'accepte\n2.Non"
)
REGION_FR_START = "Région où vit votre ménage maintenant?\n1.Kayes\n2.Koulikoro"
REGIONS_FR = (
    "1.Kayes\n2.Koulikoro\n3.Sikasso\n4.Ségou\n5.Mopti\n6.Tombouctou\n7.Gao\n8.Kidal\n"
    "9.Ménaka\n10.Taoudénit\n11.Bamako\n12.Autre"
)
HELP_FR = (
    "OIM/DNDS sondage menages deplaces. Envoyez ENQUETE pour repondre, SUITE pour continuer, "
    "STOP pour arreter, EFFACER pour effacer vos donnees, EN pour English."
)


def stored(runtime: Runtime) -> list[Submission]:
    with runtime.sessions() as session:
        return list(session.scalars(select(Submission)))


def answers(runtime: Runtime, submission: Submission) -> dict[str, str]:
    with runtime.sessions() as session:
        fresh = session.get(Submission, submission.id)
        assert fresh is not None
        return {a.key: a.value for a in fresh.answers}


def sms_phone(client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]) -> SmsPhone:
    return SmsPhone(client, runtime, run_jobs)


def test_a_household_completes_the_survey_by_sms_with_words_and_numbers(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    phone = sms_phone(client, runtime, run_jobs)

    assert phone.send("Enquête") == [CONSENT_FR]
    assert phone.send(" OUI ")[0].startswith(REGION_FR_START)
    assert phone.send("Gao")[0].startswith("De quelle région votre ménage est-il parti?")
    assert phone.send("tombouctou")[0].startswith("Combien de personnes vivent")
    assert phone.send("6")[0].startswith("Que souhaite faire votre ménage?")
    assert phone.send("rester ici")[0].startswith("Principal obstacle au retour?")
    assert phone.send("insecurite")[0].startswith("Besoin le plus urgent?")
    assert phone.send("Nourriture")[0].startswith("Deuxième besoin?")
    (confirmation,) = phone.send("aucun")  # the thanks and the reference, in one SMS

    assert confirmation.startswith("OIM/DNDS: merci, vos reponses sont enregistrees. Reference: ")
    (submission,) = stored(runtime)
    assert submission.channel == "sms"
    assert submission.status is SubmissionStatus.COMPLETED
    assert answers(runtime, submission) == {
        "consent": "yes",
        "current_region": "gao",
        "origin_region": "tombouctou",
        "household_size": "6",
        "intention": "stay",
        "obstacle": "insecurity",
        "need_1": "food",
        "need_2": "none",
    }
    # Completed: a new survey keyword is thanked, not surveyed again.
    assert phone.send("ENQUETE") == ["Merci, vous avez déjà répondu à ce sondage."]


def test_wrong_answers_are_asked_again_then_the_run_pauses(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    phone = sms_phone(client, runtime, run_jobs)
    phone.send("ENQUETE")
    phone.send("1")

    # The error line then the twelve regions, in one SMS: with the question's text too it
    # would be two, so the text the household has just read is left out.
    (first,) = phone.send("peut-etre")
    assert first == "Non compris: envoyez un numéro.\n" + REGIONS_FR
    assert measure_sms(first).segments == 1
    phone.send("99")
    assert phone.send("xyz") == [
        "Reponses non comprises. Le sondage est en pause: envoyez SUITE pour reprendre "
        "ou AIDE pour de l'aide."
    ]
    assert phone.send("encore") == []  # paused: no more messages for wrong answers

    assert phone.send("SUITE")[0].startswith(REGION_FR_START)
    assert phone.send("11")[0].startswith("De quelle région")


def test_unanswered_questions_get_two_reminders_then_silence(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    phone = sms_phone(client, runtime, run_jobs)
    phone.send("ENQUETE")
    asked_at = datetime.now(UTC)
    phone.send("1")
    # One pending reminder per run: the second question's replaced the consent's.
    ((due, which),) = pending_reminders(runtime).values()
    assert which == "1:1"  # step 1 (the region question), first reminder
    assert asked_at + timedelta(hours=24) <= due <= datetime.now(UTC) + timedelta(hours=24)
    assert ScheduledJobRegistry(queue=runtime.queue).get_job_ids() == []

    def reminders_now() -> list[str]:
        make_reminders_due(runtime)
        return phone.replies()

    reminder = (
        "Rappel OIM/DNDS: le sondage sur les ménages déplacés attend votre réponse. "
        "Répondez à la dernière question ou STOP pour quitter."
    )
    assert reminders_now() == [reminder]  # the consent reminder is stale: only one goes
    assert reminders_now() == [reminder]  # the second and last
    assert reminders_now() == []
    assert phone.send("11")[0].startswith("De quelle région")


def test_a_dropped_ussd_survey_is_finished_by_sms_into_one_submission(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    handset = Phone(client)
    handset.dial()
    handset.answer_all(["1", "11", "5"])
    client.post(
        "/ussd/events",
        data={
            "sessionId": handset.session_id,
            "phoneNumber": handset.number,
            "status": "Incomplete",
            "durationInMillis": "40000",
        },
    )
    phone = sms_phone(client, runtime, run_jobs)

    (offer,) = phone.replies()
    assert offer == (
        "Coupure. Suite par SMS gratuit:\n"
        "Combien de personnes vivent dans votre ménage, vous compris? Envoyez un nombre, ex: 6"
    )
    assert measure_sms(offer).segments == 1
    phone.send("6")
    for answer in ["retourner au lieu d'origine", "2", "1"]:
        phone.send(answer)
    (confirmation,) = phone.send("3")

    assert confirmation.startswith("OIM/DNDS: merci, vos reponses sont enregistrees.")
    (submission,) = stored(runtime)
    assert submission.channel == "ussd+sms"
    assert answers(runtime, submission)["current_region"] == "bamako"
    assert answers(runtime, submission)["need_2"] == "nfi"


def test_a_survey_started_by_sms_can_be_finished_over_ussd(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    phone = sms_phone(client, runtime, run_jobs)
    for text in ["ENQUETE", "1", "11"]:
        phone.send(text)

    handset = Phone(client)
    assert handset.dial().startswith("CON Vous avez un sondage en cours.")
    assert handset.send("1").startswith("CON De quelle region")
    assert handset.answer_all(["5", "6", "2", "1", "1", "3"])[-1].startswith("END Merci.")
    run_jobs()

    (submission,) = stored(runtime)
    assert submission.channel == "sms+ussd"
    assert submission.status is SubmissionStatus.COMPLETED


def test_stop_silences_the_number_until_start(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    phone = sms_phone(client, runtime, run_jobs)
    phone.send("ENQUETE")

    assert phone.send("arrêt") == ["Merci. Vous ne recevrez plus de messages de ce sondage."]
    pseudonym = runtime.services.pseudonymise(phone.number)
    with runtime.sessions() as session:
        assert session.get(OptOut, pseudonym) is not None  # kept in the database too
    assert phone.send("STOP") == []  # confirmed once, then silence
    assert phone.send("AIDE") == []
    assert phone.send("ENQUETE") == []
    assert phone.send("1") == []
    # A reminder planned before STOP is not sent either, even once it falls due.
    make_reminders_due(runtime)
    assert phone.replies() == []

    assert phone.send("Reprendre") == [
        "Vous recevrez de nouveau les messages du sondage. Envoyez STOP pour arreter."
    ]
    assert phone.send("ENQUETE")[0].startswith("OIM/DNDS: sondage volontaire")
    with runtime.sessions() as session:
        assert session.get(OptOut, pseudonym) is None


def test_delete_leaves_no_trace_of_the_respondent(
    client: FlaskClient,
    runtime: Runtime,
    run_jobs: Callable[..., int],
    outbox_stream: io.StringIO,
) -> None:
    phone = sms_phone(client, runtime, run_jobs)
    for text in ["ENQUETE", "1", "11", "5", "6", "1", "2", "1", "3"]:
        phone.send(text)
    other = SmsPhone(client, runtime, run_jobs, number="+22376999999")
    other.send("ENQUETE")
    other.send("1")
    assert len(stored(runtime)) == 2

    assert phone.send("EFFACER") == []  # the confirmation is sent, never recorded

    assert "Vos réponses et votre numéro ont été effacés." in outbox_stream.getvalue()
    pseudonym = runtime.services.pseudonymise(phone.number)
    with runtime.sessions() as session:
        assert session.get(Respondent, pseudonym) is None
        remaining = session.scalars(select(Submission)).all()
        assert [s.respondent_id for s in remaining] == [runtime.services.pseudonymise(other.number)]
        messages = session.scalars(select(Message)).all()
        assert {m.respondent_id for m in messages} == {remaining[0].respondent_id}
    # Only the per-number rate counters stay (so EFFACER cannot reset them); they expire
    # within a day.
    left = list(runtime.redis.scan_iter(f"sg:*{pseudonym}*"))
    assert all(key.startswith(b"sg:rate:") for key in left), left
    assert all(0 < runtime.redis.ttl(key) <= 24 * 3600 for key in left)
    # Nor does RQ keep the erasure job, nor any other once done: none keeps a result.
    assert list(runtime.redis.scan_iter("rq:job:*")) == []
    # Starting again works, as for a new respondent.
    assert phone.send("ENQUETE")[0].startswith("OIM/DNDS: sondage volontaire")


def test_help_language_and_unknown_text(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    phone = sms_phone(client, runtime, run_jobs)

    assert phone.send("bonjour") == [HELP_FR]
    assert phone.send("ca va?") == []  # unprompted help at most once a day
    assert phone.send("aide") == [HELP_FR]
    assert phone.send("EN") == ["Language: English."]
    assert phone.send("survey")[0].startswith("IOM/DNDS: free, voluntary survey")
    assert phone.send("I agree")[0].startswith("In which region does your household live now?")
    assert phone.send("langue fr")[0].startswith(REGION_FR_START)


def test_a_repeated_at_callback_has_one_effect(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    phone = sms_phone(client, runtime, run_jobs)
    phone.send("ENQUETE")
    phone.post("1", message_id="ATXid_same")
    phone.post("1", message_id="ATXid_same")

    (question,) = phone.replies()
    assert question.startswith(REGION_FR_START)
    assert phone.last_status == 200


def test_a_message_whose_first_request_died_midway_is_handled_on_at_s_retry(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    phone = sms_phone(client, runtime, run_jobs)
    phone.send("ENQUETE")
    # What a web process killed right after taking the message leaves behind.
    assert take(runtime.redis, "sg:smsin:ATXid_cut") is Take.NEW

    # AT's retry while that mark stands is told to come back, not dropped as seen.
    phone.post("1", message_id="ATXid_cut")
    assert phone.last_status == 503
    assert phone.replies() == []

    runtime.redis.pexpire("sg:smsin:ATXid_cut", 1)  # the mark lapses by itself
    time.sleep(0.01)
    phone.post("1", message_id="ATXid_cut")
    assert phone.last_status == 200
    (question,) = phone.replies()
    assert question.startswith(REGION_FR_START)

    phone.post("1", message_id="ATXid_cut")  # handled now: a later retry is seen
    assert (phone.last_status, phone.replies()) == (200, [])


def test_bad_inbound_callbacks_change_nothing(client: FlaskClient, runtime: Runtime) -> None:
    missing = client.post("/sms/inbound", data={"text": "ENQUETE", "id": "x1"})
    assert missing.status_code == 400
    assert missing.get_json()["message"] == "missing field(s): from"

    notice = client.post(
        "/sms/inbound", data={"from": "Orange", "text": "Bonus!", "id": "x2", "to": "38412"}
    )
    assert notice.status_code == 200
    huge = client.post(
        "/sms/inbound", data={"from": "+22376123456", "text": "1" * 5000, "id": "x3"}
    )
    assert huge.status_code == 400
    assert runtime.queue.count == 0
    assert list(runtime.redis.scan_iter("sg:run*")) == []


def test_each_kind_of_wrong_answer_gets_its_own_error_by_sms(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    phone = sms_phone(client, runtime, run_jobs)
    assert phone.send("INSCRIPTION") == ["Votre nom complet?"]

    # A free text too short is told so, not asked for "the number of your choice".
    assert phone.send("A") == [
        "Réponse trop courte: écrivez au moins 2 lettres.\nVotre nom complet?"
    ]
    assert phone.send("A" * 61) == ["Réponse trop longue: 60 lettres au plus.\nVotre nom complet?"]
    assert phone.send("Awa Traore")[0].startswith("Dans quelle région travaillez-vous?")

    survey = SmsPhone(client, runtime, run_jobs, number="+22376000002")
    survey.send("ENQUETE")
    for answer in ["1", "11", "7"]:
        survey.send(answer)
    question = (
        "Combien de personnes vivent dans votre ménage, vous compris? Envoyez un nombre, ex: 6"
    )
    assert survey.send("six") == [f"Non compris: envoyez un nombre en chiffres, ex: 6.\n{question}"]
    assert survey.send("60") == [f"Envoyez un nombre de 1 à 50.\n{question}"]
