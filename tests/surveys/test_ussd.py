"""A household takes the survey over USSD: screens, storage, confirmation, resumption."""

from __future__ import annotations

import io
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import requests
from flask.testing import FlaskClient
from sqlalchemy import func, select

from gateway.core.runtime import Runtime
from gateway.messaging.models import Message, MessageStatus
from gateway.surveys.models import StoredAnswer, Submission, SubmissionStatus
from tests.phone import FULL_SURVEY_RETURN, Phone

FIRST_SCREEN_FR = (
    "CON OIM/DNDS: sondage volontaire et gratuit sur les menages deplaces. "
    "Reponses confidentielles, sans effet sur l'aide.\n"
    "1. J'accepte\n"
    "2. Non\n"
    "9. English"
)
THANKS_FR = "END Merci. Vos reponses sont enregistrees. Pour effacer vos donnees, envoyez EFFACER."


def submissions(runtime: Runtime) -> list[Submission]:
    """Every submission row, oldest first."""
    with runtime.sessions() as session:
        return list(session.scalars(select(Submission).order_by(Submission.started_at)))


def answers_of(runtime: Runtime, submission_id: str) -> dict[str, str]:
    """A submission's stored answers, key to code."""
    with runtime.sessions() as session:
        rows = session.scalars(
            select(StoredAnswer).where(StoredAnswer.submission_id == submission_id)
        )
        return {row.key: row.value for row in rows}


def messages(runtime: Runtime) -> list[Message]:
    """Every outbound message row."""
    with runtime.sessions() as session:
        return list(session.scalars(select(Message)))


def test_a_household_completes_the_survey_in_french(
    client: FlaskClient,
    runtime: Runtime,
    run_jobs: Callable[..., int],
    outbox_stream: io.StringIO,
) -> None:
    phone = Phone(client)
    assert phone.dial() == FIRST_SCREEN_FR

    screens = phone.answer_all(FULL_SURVEY_RETURN)

    assert screens[0].startswith("CON Region ou vit votre menage maintenant?\n1. Kayes")
    assert screens[2].startswith("CON Combien de personnes vivent dans votre menage")
    assert screens[4].startswith("CON Quand pensez-vous partir?\n1. Dans moins d'1 mois")
    assert screens[-1] == THANKS_FR
    # Nothing is written to SQL while the household waits on its screens.
    assert submissions(runtime) == []

    run_jobs()

    (stored,) = submissions(runtime)
    assert stored.status is SubmissionStatus.COMPLETED
    assert stored.channel == "ussd" and stored.language == "fr"
    assert stored.reference is not None and len(stored.reference) == 6
    assert answers_of(runtime, stored.id) == {
        "consent": "yes",
        "current_region": "bamako",
        "origin_region": "mopti",
        "household_size": "6",
        "intention": "return",
        "timing": "1_3m",
        "need_1": "food",
        "need_2": "nfi",
    }
    (confirmation,) = messages(runtime)
    assert confirmation.kind == "confirmation"
    assert confirmation.status is MessageStatus.RECORDED
    assert confirmation.to_masked == "+22376****56"
    assert stored.reference in confirmation.body
    assert "Bamako" not in confirmation.body and "bamako" not in confirmation.body
    printed = outbox_stream.getvalue()
    assert "SMS to +22376****56: OIM/DNDS: merci" in printed
    assert "+22376123456" not in printed


def test_english_is_chosen_on_the_first_screen_and_remembered(
    client: FlaskClient, run_jobs: Callable[..., int], runtime: Runtime
) -> None:
    phone = Phone(client)
    phone.dial()

    english = phone.send("9")

    assert english == (
        "CON IOM/DNDS: free, voluntary survey of displaced households. Answers are "
        "confidential and do not affect aid.\n1. I agree\n2. No\n9. Francais"
    )
    screens = phone.answer_all(FULL_SURVEY_RETURN)
    assert screens[0].startswith("CON In which region does your household live now?")
    assert screens[-1] == (
        "END Thank you. Your answers are saved. To delete your data, send DELETE."
    )
    assert phone.dial() == "END Thank you, you have already answered this survey."
    run_jobs()
    (stored,) = submissions(runtime)
    assert stored.language == "en"
    assert "Reference:" in messages(runtime)[0].body


def test_a_long_menu_pages_with_98_and_keeps_its_numbers(client: FlaskClient) -> None:
    phone = Phone(client)
    phone.dial()
    phone.send("1")
    phone.send("11")  # the region menu without an error fits one screen; make it page:
    screen = phone.send("x")  # a wrong answer puts the error first, pushing options over

    assert screen.startswith("CON Non compris: envoyez un numero.\n")
    assert "98. Suite" in screen and "12. Autre" not in screen
    second = phone.send("98")
    assert "12. Autre" in second and "1. Kayes" not in second
    assert second.endswith("0. Retour")
    # Option 2 chosen from the second page still means Koulikoro; the survey moves on.
    assert phone.send("2").startswith("CON Combien de personnes")


def test_every_screen_fits_182_ascii_characters(client: FlaskClient) -> None:
    for language_switch in ([], ["9"]):
        phone = Phone(client, number=f"+2237612345{len(language_switch)}")
        screens = [phone.dial(), *phone.answer_all([*language_switch, "1", "x", "98", "11"])]
        screens += phone.answer_all(["5", "0", "5", "6", "3", "1", "1", "x", "4", "11"])
        for screen in screens:
            assert len(screen) <= 182, screen
            assert screen.isascii(), screen
            assert screen.startswith(("CON ", "END "))


def test_back_forgets_an_answer_and_a_new_route_drops_it(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    phone = Phone(client)
    phone.dial()
    phone.answer_all(["1", "11", "5", "6", "1"])  # intention: return, so timing is asked
    assert phone.send("2").startswith("CON Besoin le plus urgent?")  # timing answered
    run_jobs()

    assert phone.send("0").startswith("CON Quand pensez-vous partir?")
    assert phone.send("0").startswith("CON Que souhaite faire votre menage?")
    assert phone.send("2").startswith("CON Principal obstacle au retour?")  # stay
    assert phone.answer_all(["1", "1", "11"])[-1] == THANKS_FR
    run_jobs()

    (stored,) = submissions(runtime)
    answers = answers_of(runtime, stored.id)
    assert answers["intention"] == "stay" and answers["obstacle"] == "insecurity"
    assert "timing" not in answers


def test_an_invalid_answer_is_asked_again_and_changes_nothing(
    client: FlaskClient, runtime: Runtime
) -> None:
    phone = Phone(client)
    phone.dial()
    phone.answer_all(["1", "11", "5"])
    jobs_before = runtime.queue.count

    not_a_number = "Non compris: envoyez un nombre en chiffres, ex: 6."
    out_of_range = "Envoyez un nombre de 1 a 50."
    for wrong, error in [
        ("0.5", not_a_number),
        ("51", out_of_range),
        ("abc", not_a_number),
        ("", not_a_number),
        ("98", out_of_range),
    ]:
        screen = phone.send(wrong)
        assert screen.startswith(f"CON {error}\nCombien de personnes vivent dans votre menage"), (
            screen
        )

    assert runtime.queue.count == jobs_before
    assert phone.send("6").startswith("CON Que souhaite faire votre menage?")


def test_a_replayed_request_gets_the_same_screen_and_advances_nothing(
    client: FlaskClient, runtime: Runtime
) -> None:
    phone = Phone(client)
    phone.dial()
    screen = phone.send("1")
    jobs = runtime.queue.count

    assert phone.resend() == screen
    assert phone.resend() == screen
    assert runtime.queue.count == jobs
    assert phone.send("11").startswith("CON De quelle region votre menage est-il parti?")


def test_a_late_replay_of_an_earlier_step_changes_nothing(
    client: FlaskClient, runtime: Runtime
) -> None:
    phone = Phone(client)
    phone.dial()
    phone.send("1")
    screen = phone.send("11")  # AT's text is now "1*11"
    jobs = runtime.queue.count

    # AT delivers its earlier request "1" late, after "1*11" was served.
    late = client.post("/ussd", data=phone.form("1"))

    assert late.status_code == 200
    assert late.get_data(as_text=True) == screen
    assert runtime.queue.count == jobs
    # The next real step is read as the answer it is, not as "11*5" after a rewound "1".
    assert phone.send("5").startswith("CON Combien de personnes vivent dans votre menage")
    assert phone.send("6").startswith("CON Que souhaite faire votre menage?")


def test_control_characters_in_the_text_are_dropped(client: FlaskClient) -> None:
    phone = Phone(client)
    phone.dial()

    assert phone.send("1\x00").startswith("CON Region ou vit votre menage maintenant?")
    assert phone.send("\x1b11").startswith("CON De quelle region votre menage est-il parti?")


def test_a_dropped_session_resumes_or_restarts_on_the_next_dial(client: FlaskClient) -> None:
    phone = Phone(client)
    phone.dial()
    phone.answer_all(["1", "11", "5"])  # then the telco cuts the session

    menu = phone.dial()
    assert menu == "CON Vous avez un sondage en cours.\n1. Continuer\n2. Recommencer"
    assert phone.send("7").startswith("CON Non compris: envoyez un numero.")
    assert phone.send("1").startswith("CON Combien de personnes vivent dans votre menage")
    assert phone.send("6").startswith("CON Que souhaite faire votre menage?")

    phone.dial()
    assert phone.send("2") == FIRST_SCREEN_FR


def test_resuming_keeps_the_language(client: FlaskClient) -> None:
    phone = Phone(client)
    phone.dial()
    phone.answer_all(["9", "1", "11"])

    assert phone.dial() == "CON You have a survey in progress.\n1. Continue\n2. Start again"
    assert phone.send("1").startswith("CON Which region did your household come from?")


def test_declining_ends_the_survey_and_stores_the_refusal(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    phone = Phone(client)
    phone.dial()

    assert phone.send("2") == ("END Merci. Vous ne recevrez plus de messages de ce sondage.")
    run_jobs()
    (stored,) = submissions(runtime)
    assert stored.status is SubmissionStatus.DECLINED
    assert answers_of(runtime, stored.id) == {"consent": "no"}
    assert messages(runtime) == []  # no confirmation after a refusal


def test_an_unknown_session_with_text_starts_at_the_first_screen(client: FlaskClient) -> None:
    phone = Phone(client)
    phone.session_id = "ATUid_never_seen"
    phone.typed = ["1", "3"]

    assert phone.resend() == FIRST_SCREEN_FR
    # The session continues from what AT will send next.
    assert phone.send("1").startswith("CON Region ou vit votre menage")


def test_free_text_with_a_star_is_one_input(client: FlaskClient) -> None:
    phone = Phone(client)
    phone.dial()
    phone.send("1")
    # "*" inside one input: AT joins inputs with "*", the handler takes what was added.
    screen = phone.send("1*1")
    assert screen.startswith("CON Non compris: envoyez un numero."), screen


def test_thirty_households_at_once_all_complete(
    live_server: str, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    class Http:
        def __init__(self) -> None:
            self.session = requests.Session()

        def post(self, path: str, data: dict[str, str]) -> _Response:
            return _Response(self.session.post(live_server + path, data=data, timeout=10))

    def household(n: int) -> str:
        phone = Phone(Http(), number=f"+2237650{n:04d}")
        phone.dial()
        return phone.answer_all(FULL_SURVEY_RETURN)[-1]

    with ThreadPoolExecutor(max_workers=30) as pool:
        last_screens = list(pool.map(household, range(30)))

    assert last_screens == [THANKS_FR] * 30
    run_jobs()
    stored = submissions(runtime)
    assert len(stored) == 30
    assert {s.status for s in stored} == {SubmissionStatus.COMPLETED}
    assert len({s.respondent_id for s in stored}) == 30
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(StoredAnswer)) == 30 * 8
    assert len(messages(runtime)) == 30


class _Response:
    """A requests response shaped like a Flask test response, for Phone."""

    def __init__(self, response: object) -> None:
        self.status_code = response.status_code
        self._text = response.text

    def get_data(self, as_text: bool = True) -> str:
        return str(self._text)
