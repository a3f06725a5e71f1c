"""The question kinds XLSForms bring: several choices, decimals, notes, a question's own error
text, conditions with selected() and not(), and options filtered by an earlier answer."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from flows import FlowError, QuestionAsked, RunEnded, Step, build_flow, resume, start

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
TEXTS = {
    name: {"fr": f"{name} fr", "en": f"{name} en"}
    for name in ("invalid", "resume", "resume_continue", "resume_restart", "more", "back")
}
TEXTS["invalid_number"] = {"fr": "Entre {min} et {max}.", "en": "From {min} to {max}."}
TEXTS["already_done"] = {"fr": "Déjà fait.", "en": "Done already."}
TEXTS["too_short"] = {"fr": "Au moins {min}.", "en": "At least {min}."}
TEXTS["too_long"] = {"fr": "Au plus {max}.", "en": "At most {max}."}


def raw_flow() -> dict[str, Any]:
    return {
        "id": "sites",
        "version": 2,
        "name": "Sites",
        "languages": {"fr": "Francais", "en": "English"},
        "default_language": "fr",
        "reminders": {"count": 0},
        "questions": [
            {
                "key": "region",
                "type": "choice",
                "text": {"fr": "Région?", "en": "Region?"},
                "options": [
                    {"code": "kayes", "label": "Kayes"},
                    {"code": "mopti", "label": "Mopti"},
                ],
            },
            {"key": "welcome", "type": "note", "text": {"fr": "Merci.", "en": "Thanks."}},
            {
                "key": "site",
                "type": "choice",
                "text": {"fr": "Site?", "en": "Site?"},
                "choice_filter": {"property": "region", "answer": "region"},
                "options": [
                    {"code": "k1", "label": "Kayes 1", "properties": {"region": "kayes"}},
                    {"code": "m1", "label": "Mopti 1", "properties": {"region": "mopti"}},
                    {"code": "m2", "label": "Mopti 2", "properties": {"region": "mopti"}},
                ],
            },
            {
                "key": "needs",
                "type": "multi_choice",
                "text": {"fr": "Besoins?", "en": "Needs?"},
                "options": [
                    {"code": "food", "label": "Food"},
                    {"code": "water", "label": "Water"},
                    {"code": "shelter", "label": "Shelter"},
                ],
            },
            {
                "key": "litres",
                "type": "decimal",
                "min": 0.5,
                "max": 20,
                "when": {"needs": {"selected": "water"}},
                "error": {"fr": "Litres: de 0,5 à 20.", "en": "Litres: 0.5 to 20."},
                "text": {"fr": "Litres?", "en": "Litres?"},
            },
            {
                "key": "why_not_food",
                "type": "text",
                "min": 1,
                "max": 30,
                "when": {"not": {"needs": {"selected": "food"}}},
                "text": {"fr": "Pourquoi?", "en": "Why?"},
            },
            {"key": "bye", "type": "note", "text": {"fr": "Au revoir.", "en": "Goodbye."}},
        ],
        "endings": {"completed": {"status": "completed", "text": "Fin."}},
        "texts": TEXTS,
    }


def run(inputs: Sequence[str]) -> Step:
    flow = build_flow(raw_flow())
    step = start(flow, run_id="r1", language=None, now=T0)
    for minute, text in enumerate(inputs, start=1):
        step = resume(flow, step.state, text, now=T0 + timedelta(minutes=minute))
    return step


def asked(step: Step) -> QuestionAsked:
    assert isinstance(step.screen, QuestionAsked), step.screen
    return step.screen


def test_a_choice_filter_offers_the_sites_of_the_region_answered() -> None:
    screen = asked(run(["2"]))
    assert screen.key == "site"
    assert [(c.number, c.code, c.label) for c in screen.choices] == [
        (1, "m1", "Mopti 1"),
        (2, "m2", "Mopti 2"),
    ]
    # Numbered within the filtered list: 2 is Mopti 2, and 3 is not an option.
    assert run(["2", "2"]).state.answers["site"].value == "m2"
    assert asked(run(["2", "3"])).error == "invalid fr"
    assert [c.code for c in asked(run(["1"])).choices] == ["k1"]


def test_a_note_is_shown_above_the_next_question_and_waits_for_nothing() -> None:
    screen = asked(run(["1"]))
    assert screen.text == "Merci.\nSite?"
    assert "welcome" not in run(["1", "1"]).state.answers


def test_several_choices_are_typed_as_numbers_and_stored_as_codes() -> None:
    step = run(["1", "1", "3 1"])
    assert step.state.answers["needs"].value == "food shelter"
    assert run(["1", "1", "1,2"]).state.answers["needs"].value == "food water"
    assert asked(run(["1", "1", "1 4"])).error == "invalid fr"
    assert asked(run(["1", "1", "food"])).error == "invalid fr"


def test_selected_routes_on_one_code_of_several_and_not_inverts() -> None:
    assert asked(run(["1", "1", "1 2"])).key == "litres"
    assert asked(run(["1", "1", "3"])).key == "why_not_food"


def test_a_decimal_takes_a_comma_or_a_point_within_bounds_with_the_question_error() -> None:
    to_litres = ["1", "1", "1 2"]
    assert run([*to_litres, "2,5"]).state.answers["litres"].value == "2.5"
    assert run([*to_litres, "20"]).state.answers["litres"].value == "20"
    refused = asked(run([*to_litres, "0.4"]))
    assert (refused.key, refused.error) == ("litres", "Litres: de 0,5 à 20.")
    assert asked(run([*to_litres, "beaucoup"])).error == "Litres: de 0,5 à 20."


def test_a_note_after_the_last_question_comes_before_the_ending() -> None:
    step = run(["1", "1", "3", "soon"])
    assert isinstance(step.screen, RunEnded)
    assert step.screen.text == "Au revoir.\nFin."


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda q: q[2]["choice_filter"].update(answer="needs"), ["not an earlier question"]),
        (lambda q: q[2]["choice_filter"].update(property="district"), ["'district'"]),
        (lambda q: q[4]["when"].update(needs={"selected": "fuel"}), ["fuel"]),
        (lambda q: q[1].update(options=[{"code": "a", "label": "A"}]), ["'options'"]),
    ],
)
def test_broken_new_kinds_are_refused_naming_the_problem(change: Any, words: list[str]) -> None:
    raw = raw_flow()
    change(raw["questions"])
    with pytest.raises(FlowError) as caught:
        build_flow(raw)
    for word in words:
        assert word in str(caught.value)
