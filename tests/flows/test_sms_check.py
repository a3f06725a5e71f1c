"""What `flows check` says of a flow's SMS: every composed message over one SMS (a problem),
and texts that leave GSM-7 (a warning)."""

from __future__ import annotations

from typing import Any

from flows import build_flow, load_flows
from flows.gsm7 import measure_sms
from flows.model import REQUIRED_TEXTS
from flows.sms_check import composed_sms, sms_overruns, sms_warnings
from flows.sms_compose import render_sms_question

SHORT_QUESTION = {"key": "size", "type": "integer", "min": 1, "max": 9, "text": "Taille?"}


def small_flow(
    *,
    questions: list[dict[str, Any]] | None = None,
    endings: dict[str, Any] | None = None,
    texts: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A two-language flow whose texts are all short GSM-7, with the given parts replaced."""
    return {
        "id": "tiny",
        "version": 1,
        "name": "T",
        "languages": {"fr": "Francais", "en": "English"},
        "default_language": "fr",
        "questions": questions or [SHORT_QUESTION],
        "endings": endings or {"completed": {"status": "completed", "text": "Merci."}},
        # "reminder" too: a flow that sends reminders (the default) must carry one.
        "texts": {name: name for name in (*REQUIRED_TEXTS, "reminder")} | (texts or {}),
    }


def warnings_for(**parts: Any) -> list[str]:
    """The GSM-7 warnings, then the messages over one SMS, as `flows check` prints them."""
    flow = build_flow(small_flow(**parts), source="t.yaml")
    return sms_warnings(flow) + sms_overruns(flow)


TWELVE_OPTIONS = {
    "key": "region",
    "type": "choice",
    "text": "Quelle région? (fin)",
    # 9 lines "\nN.Option 0N" of 12 and 3 lines "\nNN.Option NN" of 13: 147 characters.
    "options": [{"code": f"o{n}", "label": f"Option {n:02}"} for n in range(1, 13)],
}


# --- render_sms_question ------------------------------------------------------------------------


def test_a_question_is_its_text_then_one_numbered_line_per_option() -> None:
    assert render_sms_question("Besoin?", ["Abri", "Santé"]) == "Besoin?\n1.Abri\n2.Santé"


def test_a_question_without_options_is_its_text() -> None:
    assert render_sms_question("Combien?", []) == "Combien?"


# --- the shipped flow ---------------------------------------------------------------------------


def test_every_sms_composed_from_the_shipped_flows_fits_one_gsm7_segment() -> None:
    # Field practice: one message, one SMS. The twelve-region menus fit only with "1.Kayes"
    # (no space), the short error and offer lines, and the question's text left out after
    # them; this test keeps it that way, for every message the gateway can compose.
    for flow in load_flows().values():
        over = [m for m in composed_sms(flow) if measure_sms(m.body).segments > 1]
        assert over == []
        assert sms_overruns(flow) == []
        assert sms_warnings(flow) == []


def test_the_check_composes_every_kind_of_message_in_every_language() -> None:
    flow = load_flows()["return_intention"]
    composed = {(m.what, m.language) for m in composed_sms(flow)}

    for language in ("fr", "en"):
        assert {
            ("question 'need_2'", language),
            ("question 'need_2' after the error 'not_a_choice'", language),
            ("question 'household_size' after the error 'not_a_number'", language),
            ("question 'household_size' after the error 'out_of_range'", language),
            ("offer 'continue_by_sms' with question 'origin_region'", language),
            ("text 'reminder'", language),
            ("text 'confirmation'", language),
            ("ending 'declined'", language),
            ("text 'help'", language),
        } <= composed
    registration = load_flows()["enumerator_registration"]
    assert {m.what for m in composed_sms(registration)} >= {
        "question 'full_name' after the error 'too_short'",
        "question 'site' after the error 'too_long'",
    }


# --- small flows, one warning kind at a time ----------------------------------------------------


def test_a_short_gsm7_flow_has_no_warning() -> None:
    assert warnings_for() == []


def test_a_question_leaving_gsm7_is_named_with_its_characters() -> None:
    question = {**SHORT_QUESTION, "text": {"fr": "Êtes-vous prêt? Reçu?", "en": "Ready?"}}

    assert warnings_for(questions=[question]) == [
        "t.yaml: question 'size' [fr]: leaves GSM-7 (Ê, ê, ç): sent as written it would switch"
        " the whole SMS to UCS-2 (70 characters)"
    ]


def test_an_option_label_leaving_gsm7_counts_for_its_question() -> None:
    question = {
        "key": "need",
        "type": "choice",
        "text": "Besoin?",
        "options": [
            {"code": "shelter", "label": "Abri"},
            {"code": "water", "label": {"fr": "Eau – hygiène", "en": "Water"}},
        ],
    }

    assert warnings_for(questions=[question]) == [
        "t.yaml: question 'need' [fr]: leaves GSM-7 (–): sent as written it would switch"
        " the whole SMS to UCS-2 (70 characters)"
    ]


def test_an_invisible_character_is_named_by_its_code_point() -> None:
    endings = {"completed": {"status": "completed", "text": {"fr": "Merci\u00a0!", "en": "OK"}}}

    assert warnings_for(endings=endings) == [
        "t.yaml: ending 'completed' [fr]: leaves GSM-7 (U+00A0): sent as written it would"
        " switch the whole SMS to UCS-2 (70 characters)"
    ]


def test_a_question_whose_options_make_it_longer_than_one_sms() -> None:
    # 20 + 147 = 167. After the error line ("invalid", 7 + 1) the question's text is left
    # out: 8 + 147 = 155 fits, so only the question itself is reported.
    assert warnings_for(questions=[TWELVE_OPTIONS]) == [
        "t.yaml: question 'region' [fr]: needs 2 SMS segments (167 of 160 GSM-7 characters)",
        "t.yaml: question 'region' [en]: needs 2 SMS segments (167 of 160 GSM-7 characters)",
    ]


def test_an_error_line_too_long_for_the_options_is_reported_with_its_question() -> None:
    question = {**TWELVE_OPTIONS, "text": "Région?"}
    texts = {"invalid": {"fr": "x" * 14, "en": "Wrong."}}

    # 14 + 147 = 161: the error line and the options alone are over one SMS.
    assert warnings_for(questions=[question], texts=texts) == [
        "t.yaml: question 'region' after the error 'not_a_choice' [fr]: needs 2 SMS segments"
        " (161 of 160 GSM-7 characters)"
    ]


def test_each_error_of_a_number_question_is_measured_with_its_bounds_filled_in() -> None:
    texts = {
        "invalid_number": {"fr": "Un nombre.", "en": "A number."},
        "out_of_range": {"fr": "y" * 145 + " {min}-{max}", "en": "From {min} to {max}."},
    }

    # 145 + " 1-9" + "\n" + "Taille?" = 157 fits; with max 999999: 145 + 9 + 1 + 7 = 162.
    assert warnings_for(texts=texts) == []
    bigger = {**SHORT_QUESTION, "max": 999999}
    assert warnings_for(questions=[bigger], texts=texts) == [
        "t.yaml: question 'size' after the error 'out_of_range' [fr]: needs 2 SMS segments"
        " (162 of 160 GSM-7 characters)"
    ]


def test_the_offer_after_a_ussd_drop_is_measured_with_each_question() -> None:
    raw = small_flow(
        questions=[{**SHORT_QUESTION, "text": "q" * 140}],
        texts={"continue_by_sms": "Continue by SMS, free:"},
    )
    flow = build_flow(raw | {"offer_sms_after_ussd_drop": True}, source="t.yaml")

    # 22 + 1 + 140 = 163; a question without options cannot be shortened.
    assert sms_overruns(flow) == [
        f"t.yaml: offer 'continue_by_sms' with question 'size' [{language}]: needs 2 SMS"
        " segments (163 of 160 GSM-7 characters)"
        for language in ("fr", "en")
    ]


def test_an_ending_longer_than_one_sms_is_reported_in_its_language_only() -> None:
    endings = {"completed": {"status": "completed", "text": {"fr": "x" * 161, "en": "Thanks."}}}

    assert warnings_for(endings=endings) == [
        "t.yaml: ending 'completed' [fr]: needs 2 SMS segments (161 of 160 GSM-7 characters)"
    ]


def test_extension_characters_count_two_in_the_warning() -> None:
    # "[" and "]" are sent as escape + code: 152 + 4 + 2 * 2 = 160 septets in 158 characters.
    fits = {"reminder": "a" * 152 + "[STOP]"}
    over = {"reminder": "a" * 154 + "[STOP]"}

    assert warnings_for(texts=fits) == []
    assert warnings_for(texts=over) == [
        "t.yaml: text 'reminder' [fr]: needs 2 SMS segments (162 of 160 GSM-7 characters)",
        "t.yaml: text 'reminder' [en]: needs 2 SMS segments (162 of 160 GSM-7 characters)",
    ]


def test_the_length_warning_measures_the_gsm7_rendering() -> None:
    # 160 characters with ê: UCS-2 as written (3 SMS), one SMS once rendered as GSM-7.
    fits = {"reminder": {"fr": "ê" * 160, "en": "Reply."}}
    # 161 with œ: the rendering (œ → oe) is 162 GSM-7 characters.
    over = {"reminder": {"fr": "a" * 160 + "œ", "en": "Reply."}}

    assert warnings_for(texts=fits) == [
        "t.yaml: text 'reminder' [fr]: leaves GSM-7 (ê): sent as written it would switch"
        " the whole SMS to UCS-2 (70 characters)"
    ]
    assert warnings_for(texts=over) == [
        "t.yaml: text 'reminder' [fr]: leaves GSM-7 (œ): sent as written it would switch"
        " the whole SMS to UCS-2 (70 characters)",
        "t.yaml: text 'reminder' [fr]: needs 2 SMS segments (162 of 160 GSM-7 characters)",
    ]


def test_placeholders_are_measured_as_the_values_filled_in() -> None:
    # As written, "{reference}" is 11 characters with two 2-septet braces (13 septets); filled
    # in it is a 6-character reference code, which fits: 154 + 6 = 160.
    fits = {"confirmation": {"fr": "a" * 154 + "{reference}", "en": "Ref {reference}"}}
    over = {"confirmation": {"fr": "a" * 155 + "{reference}", "en": "Ref {reference}"}}

    assert warnings_for(texts=fits) == []
    assert warnings_for(texts=over) == [
        "t.yaml: text 'confirmation' [fr]: needs 2 SMS segments (161 of 160 GSM-7 characters)"
    ]
