"""The SMS composed from a flow: a question, after an error, with the offer after a USSD drop."""

from __future__ import annotations

from flows import Choice, QuestionAsked, load_flows
from flows.engine import question_asked
from flows.gsm7 import measure_sms
from flows.sms_compose import confirmation_sms, offer_sms, question_sms, reminder_sms

REGIONS = [
    "Kayes",
    "Koulikoro",
    "Sikasso",
    "Ségou",
    "Mopti",
    "Tombouctou",
    "Gao",
    "Kidal",
    "Ménaka",
    "Taoudénit",
    "Bamako",
    "Autre",
]
OPTIONS = "\n".join(f"{n}.{label}" for n, label in enumerate(REGIONS, 1))


def regions(error: str | None = None) -> QuestionAsked:
    choices = tuple(Choice(n, label.lower(), label) for n, label in enumerate(REGIONS, 1))
    return QuestionAsked("region", "Région où vit votre ménage maintenant?", choices, error)


def test_a_question_is_its_text_then_its_numbered_options() -> None:
    assert question_sms(regions()) == f"Région où vit votre ménage maintenant?\n{OPTIONS}"


def test_an_error_that_fits_with_the_question_comes_first() -> None:
    asked = QuestionAsked("size", "Combien de personnes?", (), "Envoyez un nombre de 1 à 50.")

    assert question_sms(asked) == "Envoyez un nombre de 1 à 50.\nCombien de personnes?"


def test_an_error_that_would_make_two_sms_leaves_the_question_text_out() -> None:
    body = question_sms(regions("Non compris: envoyez un numéro."))

    assert body == f"Non compris: envoyez un numéro.\n{OPTIONS}"
    assert measure_sms(body).segments == 1


def test_a_question_without_options_is_never_cut() -> None:
    asked = QuestionAsked("name", "q" * 150, (), "Trop court.")

    # Over one SMS, and reported so by `flows check`: nothing could be left out.
    assert question_sms(asked) == "Trop court.\n" + "q" * 150


def test_the_shipped_offer_reminder_and_confirmation_are_one_gsm7_sms() -> None:
    flow = load_flows()["return_intention"]
    origin = question_asked(flow, flow.question("origin_region"), "fr")

    offer = offer_sms(flow, origin, "fr")
    assert offer.startswith("Coupure. Suite par SMS gratuit:\n1.Kayes\n2.Koulikoro")
    assert offer.endswith("12.Autre")
    for body in (
        offer,
        reminder_sms(flow, "en"),
        confirmation_sms(flow, "fr", "7K3D9X"),
    ):
        assert measure_sms(body).segments == 1, body
    assert "Reference: 7K3D9X." in confirmation_sms(flow, "fr", "7K3D9X")
    # GSM-7 has "é": the French accents stay.
    assert "ménages déplacés" in reminder_sms(flow, "fr")
