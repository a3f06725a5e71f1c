"""Focused engine tests on the shipped return_intention flow: stored state, expiry, ``show``,
language switching and what the respondent reads. Whole runs live in the golden cases."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from flows import (
    AnswerRecorded,
    Choice,
    Flow,
    InputRejected,
    QuestionAsked,
    RejectReason,
    RunEnded,
    RunState,
    RunStateError,
    RunStatus,
    Step,
    back,
    build_flow,
    load_flow,
    resume,
    show,
    start,
    switch_language,
)

FLOW_PATH = Path(__file__).resolve().parents[2] / "flows" / "surveys" / "return_intention.yaml"
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
EXPIRES = T0 + timedelta(hours=72)  # expiry_hours: 72 in the flow file
RUN_ID = "run-0001"

# Inputs that reach a question from the start (French numbering of the flow file).
TO_HOUSEHOLD = ["1", "11", "7"]  # yes, bamako, gao
TO_INTENTION = [*TO_HOUSEHOLD, "6"]
TO_TIMING = [*TO_INTENTION, "1"]  # return
TO_NEED_2 = [*TO_TIMING, "2", "1"]  # 1_3m, food

INVALID_FR = "Non compris: envoyez un numéro."


@pytest.fixture(scope="module")
def flow() -> Flow:
    return load_flow(FLOW_PATH)


def run(flow: Flow, inputs: Sequence[str], *, language: str | None = None) -> Step:
    """Start a run and answer ``inputs``, one minute apart."""
    step = start(flow, run_id=RUN_ID, language=language, now=T0)
    for minute, text in enumerate(inputs, start=1):
        step = resume(flow, step.state, text, now=T0 + timedelta(minutes=minute))
    return step


def asked(step: Step) -> QuestionAsked:
    screen = step.screen
    assert isinstance(screen, QuestionAsked), screen
    return screen


# --- start ---------------------------------------------------------------------------------


def test_start_asks_consent_in_the_default_language(flow: Flow) -> None:
    step = start(flow, run_id=RUN_ID, language=None, now=T0)

    assert [type(e) for e in step.events] == [QuestionAsked]
    assert asked(step).key == "consent"
    state = step.state
    assert (state.run_id, state.flow_id, state.flow_version) == (RUN_ID, "return_intention", 1)
    assert (state.language, state.status, state.current) == ("fr", RunStatus.ACTIVE, "consent")
    assert (state.path, dict(state.answers), state.seq) == (("consent",), {}, 0)
    assert (state.started_at, state.updated_at, state.expires_at) == (T0, T0, EXPIRES)


# --- what the respondent reads ---------------------------------------------------------------

CONSENT_FR = (
    "OIM/DNDS: sondage volontaire et gratuit sur les ménages déplacés. "
    "Réponses confidentielles, sans effet sur l'aide."
)
CONSENT_EN = (
    "IOM/DNDS: free, voluntary survey of displaced households. "
    "Answers are confidential and do not affect aid."
)


@pytest.mark.parametrize(
    ("language", "inputs", "text", "choices"),
    [
        ("fr", [], CONSENT_FR, [("yes", "J'accepte"), ("no", "Non")]),
        ("en", [], CONSENT_EN, [("yes", "I agree"), ("no", "No")]),
        (
            "fr",
            TO_HOUSEHOLD,
            "Combien de personnes vivent dans votre ménage, vous compris? Envoyez un nombre, ex: 6",
            [],
        ),
        (
            "en",
            TO_HOUSEHOLD,
            "How many people live in your household, including you? Send a number, e.g. 6",
            [],
        ),
        (
            "fr",
            TO_INTENTION,
            "Que souhaite faire votre ménage?",
            [
                ("return", "Retourner au lieu d'origine"),
                ("stay", "Rester ici"),
                ("relocate", "S'installer ailleurs"),
                ("undecided", "Pas encore décidé"),
            ],
        ),
        (
            "en",
            TO_INTENTION,
            "What does your household want to do?",
            [
                ("return", "Return to place of origin"),
                ("stay", "Stay here"),
                ("relocate", "Settle elsewhere"),
                ("undecided", "Not decided yet"),
            ],
        ),
        (
            "en",
            TO_TIMING,
            "When do you plan to leave?",
            [
                ("lt_1m", "Within 1 month"),
                ("1_3m", "In 1-3 months"),
                ("3_6m", "In 3-6 months"),
                ("6_12m", "In 6-12 months"),
                ("later", "Later or don't know"),
            ],
        ),
    ],
    ids=[
        "consent-fr",
        "consent-en",
        "size-fr",
        "size-en",
        "intention-fr",
        "intention-en",
        "timing-en",
    ],
)
def test_question_text_and_numbered_choices_per_language(
    flow: Flow, language: str, inputs: list[str], text: str, choices: list[tuple[str, str]]
) -> None:
    question = asked(run(flow, inputs, language=language))

    assert question.text == text
    assert question.choices == tuple(
        Choice(number, code, label) for number, (code, label) in enumerate(choices, start=1)
    )


@pytest.mark.parametrize(
    ("language", "labels"),
    [
        ("fr", ["Tombouctou", "Gao", "Kidal", "Ménaka", "Taoudénit", "Bamako", "Autre"]),
        ("en", ["Timbuktu", "Gao", "Kidal", "Ménaka", "Taoudénit", "Bamako", "Other"]),
    ],
)
def test_region_labels_per_language(flow: Flow, language: str, labels: list[str]) -> None:
    question = asked(run(flow, ["1"], language=language))

    assert question.key == "current_region"
    assert [c.number for c in question.choices] == list(range(1, 13))
    assert [c.label for c in question.choices[5:]] == labels
    assert question.choices[3] == Choice(4, "segou", "Ségou")


@pytest.mark.parametrize(
    ("language", "last"), [("fr", Choice(11, "none", "Aucun")), ("en", Choice(11, "none", "None"))]
)
def test_need_2_adds_none_after_the_needs_list(flow: Flow, language: str, last: Choice) -> None:
    question = asked(run(flow, TO_NEED_2, language=language))

    assert question.key == "need_2"
    assert question.choices[-1] == last
    assert [c.code for c in question.choices[:-1]] == [
        c.code for c in asked(run(flow, TO_TIMING + ["2"], language=language)).choices
    ]


@pytest.mark.parametrize(
    ("language", "text"),
    [
        ("fr", "Merci. Vous ne recevrez plus de messages de ce sondage."),
        ("en", "Thank you. You will receive no more messages from this survey."),
    ],
)
def test_declined_ending_text_per_language(flow: Flow, language: str, text: str) -> None:
    step = run(flow, ["2"], language=language)

    assert step.events[-1] == RunEnded(RunStatus.DECLINED, "declined", text)
    assert (step.state.status, step.state.ending, step.state.current) == (
        "declined",
        "declined",
        None,
    )


def test_completed_ending_text(flow: Flow) -> None:
    step = run(flow, [*TO_NEED_2, "11"], language="en")

    assert step.events[-1] == RunEnded(
        RunStatus.COMPLETED,
        "completed",
        "Thank you. Your answers are saved. To delete your data, send DELETE.",
    )


# --- show ------------------------------------------------------------------------------------


def test_show_asks_the_current_question_again_and_changes_nothing(flow: Flow) -> None:
    rejected = run(flow, [*TO_HOUSEHOLD, "abc"])
    state = rejected.state
    before = state.to_dict()

    shown = show(flow, state)

    assert shown.state == state
    assert state.to_dict() == before
    assert shown.events == (replace(asked(rejected), error=None),)
    assert show(flow, shown.state) == shown


def test_show_on_an_ended_run_shows_the_ending(flow: Flow) -> None:
    declined = run(flow, ["2"])

    shown = show(flow, declined.state)

    assert shown.state == declined.state
    assert shown.events == (declined.events[-1],)


# --- switch_language -------------------------------------------------------------------------


def test_switch_language_asks_again_in_english(flow: Flow) -> None:
    french = run(flow, TO_INTENTION)
    later = T0 + timedelta(hours=1)

    english = switch_language(flow, french.state, "en", now=later)

    assert english.events == (
        QuestionAsked(
            "intention",
            "What does your household want to do?",
            (
                Choice(1, "return", "Return to place of origin"),
                Choice(2, "stay", "Stay here"),
                Choice(3, "relocate", "Settle elsewhere"),
                Choice(4, "undecided", "Not decided yet"),
            ),
        ),
    )
    assert english.state == replace(french.state, language="en", updated_at=later)
    # What follows stays in English, and word answers in French are still understood.
    following = resume(flow, english.state, "Retourner au lieu d'origine", now=later)
    assert following.events[0] == AnswerRecorded("intention", "return", 5, later)
    assert asked(following).text == "When do you plan to leave?"


def test_switch_to_a_language_the_flow_lacks_gives_the_default(flow: Flow) -> None:
    english = run(flow, TO_INTENTION, language="en")

    switched = switch_language(flow, english.state, "de", now=T0 + timedelta(hours=1))

    assert switched.state.language == "fr"
    assert asked(switched).text == "Que souhaite faire votre ménage?"


# --- expiry ----------------------------------------------------------------------------------


def test_resume_after_expiry_ends_the_run_and_records_nothing(flow: Flow) -> None:
    waiting = run(flow, TO_INTENTION)

    expired = resume(flow, waiting.state, "1", now=EXPIRES + timedelta(minutes=1))

    assert expired.events == (RunEnded(RunStatus.EXPIRED, "expired", ""),)
    state = expired.state
    assert (state.status, state.current, state.is_active) == (RunStatus.EXPIRED, None, False)
    assert state.answers == waiting.state.answers
    assert state.seq == waiting.state.seq == 4
    # Once expired, an input records nothing either.
    again = resume(flow, state, "1", now=EXPIRES + timedelta(hours=1))
    assert [type(e) for e in again.events] == [RunEnded]
    assert again.state.answers == waiting.state.answers


def test_expiry_starts_at_expires_at_exactly(flow: Flow) -> None:
    waiting = run(flow, TO_INTENTION)

    just_before = resume(flow, waiting.state, "1", now=EXPIRES - timedelta(seconds=1))
    at_expiry = resume(flow, waiting.state, "1", now=EXPIRES)

    assert just_before.events[0] == AnswerRecorded(
        "intention", "return", 5, EXPIRES - timedelta(seconds=1)
    )
    assert at_expiry.state.status is RunStatus.EXPIRED


def test_show_after_expiry_repeats_the_expired_ending(flow: Flow) -> None:
    expired = resume(flow, run(flow, ["1"]).state, "1", now=EXPIRES)

    assert expired.state.ending == "expired"
    assert show(flow, expired.state).events == expired.events


# --- input parsing edge cases ----------------------------------------------------------------


@pytest.mark.parametrize("text", ["١", "２"])
def test_other_scripts_digits_are_numbers(flow: Flow, text: str) -> None:
    """Arabic-Indic and full-width digits are decimal digits: they choose an option."""
    step = run(flow, [text])

    assert isinstance(step.events[0], AnswerRecorded)
    assert step.events[0].value == {"١": "yes", "２": "no"}[text]


@pytest.mark.parametrize("text", ["²", "①"])
def test_digit_like_symbols_are_rejected_not_a_crash(flow: Flow, text: str) -> None:
    step = run(flow, [text])

    assert step.events[0] == InputRejected("consent", text, RejectReason.NOT_A_CHOICE)
    assert asked(step).error == INVALID_FR


@pytest.mark.parametrize(
    ("inputs", "reason", "error"),
    [
        # Not a number (or nothing): how to write one; a number out of range: the range.
        (
            [*TO_HOUSEHOLD, "six"],
            "not_a_number",
            "Non compris: envoyez un nombre en chiffres, ex: 6.",
        ),
        ([*TO_HOUSEHOLD, " "], "empty", "Non compris: envoyez un nombre en chiffres, ex: 6."),
        ([*TO_HOUSEHOLD, "51"], "out_of_range", "Envoyez un nombre de 1 à 50."),
        ([*TO_HOUSEHOLD, "0"], "out_of_range", "Envoyez un nombre de 1 à 50."),
        # A choice: a number of the list.
        (["1", "Paris"], "not_a_choice", INVALID_FR),
    ],
)
def test_each_kind_of_wrong_answer_gets_its_own_error(
    flow: Flow, inputs: list[str], reason: str, error: str
) -> None:
    step = run(flow, inputs)

    assert isinstance(step.events[0], InputRejected)
    assert step.events[0].reason == reason
    assert asked(step).error == error


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("A", "Réponse trop courte: écrivez au moins 2 lettres."),
        ("A" * 61, "Réponse trop longue: 60 lettres au plus."),
    ],
)
def test_a_free_text_answer_too_short_or_too_long_is_told_so(text: str, error: str) -> None:
    registration = load_flow(FLOW_PATH.with_name("enumerator_registration.yaml"))
    started = start(registration, run_id=RUN_ID, language=None, now=T0)
    step = resume(registration, started.state, text, now=T0 + timedelta(minutes=1))

    assert asked(step).key == "full_name"
    assert asked(step).error == error


def test_a_flow_without_an_out_of_range_text_says_its_invalid_number_text() -> None:
    raw = yaml.safe_load(FLOW_PATH.read_text(encoding="utf-8"))
    del raw["texts"]["out_of_range"]
    older = build_flow(raw, source="older.yaml")

    step = run(older, [*TO_HOUSEHOLD, "99"])

    assert asked(step).error == "Non compris: envoyez un nombre en chiffres, ex: 6."


def test_back_at_the_first_question_changes_nothing(flow: Flow) -> None:
    started = start(flow, run_id=RUN_ID, language=None, now=T0)

    assert back(flow, started.state, now=T0 + timedelta(minutes=1)) == started


# --- stored state ----------------------------------------------------------------------------


def test_to_dict_is_plain_json(flow: Flow) -> None:
    state = run(flow, ["1"]).state

    assert state.to_dict() == {
        "run_id": RUN_ID,
        "flow_id": "return_intention",
        "flow_version": 1,
        "language": "fr",
        "status": "active",
        "current": "current_region",
        "path": ["consent", "current_region"],
        "answers": {"consent": {"value": "yes", "seq": 1, "at": "2026-03-01T09:01:00+00:00"}},
        "seq": 1,
        "invalid_count": 0,
        "started_at": "2026-03-01T09:00:00+00:00",
        "updated_at": "2026-03-01T09:01:00+00:00",
        "expires_at": "2026-03-04T09:00:00+00:00",
        "ending": None,
    }


@pytest.mark.parametrize(
    "inputs",
    [[], [*TO_TIMING, "abc"], [*TO_TIMING, "2"], ["2"], [*TO_NEED_2, "11"]],
    ids=["started", "after-rejection", "mid-run", "declined", "completed"],
)
def test_state_round_trips_through_json(flow: Flow, inputs: list[str]) -> None:
    state = run(flow, inputs, language="en").state

    restored = RunState.from_dict(json.loads(json.dumps(state.to_dict())))

    assert restored == state
    later = T0 + timedelta(hours=1)
    assert resume(flow, restored, "1", now=later) == resume(flow, state, "1", now=later)


def _corrupt(change: dict[str, Any] | None = None, drop: str | None = None) -> dict[str, Any]:
    data = RunState(
        run_id=RUN_ID,
        flow_id="return_intention",
        flow_version=1,
        language="fr",
        status=RunStatus.ACTIVE,
        current="current_region",
        path=("consent", "current_region"),
        answers={},
        seq=1,
        invalid_count=0,
        started_at=T0,
        updated_at=T0,
        expires_at=EXPIRES,
    ).to_dict()
    data["answers"] = {"consent": {"value": "yes", "seq": 1, "at": T0.isoformat()}}
    data.update(change or {})
    if drop:
        data.pop(drop)
    return data


@pytest.mark.parametrize(
    "data",
    [
        _corrupt(drop="run_id"),
        _corrupt(drop="answers"),
        _corrupt({"status": "paused"}),
        _corrupt({"seq": "one"}),
        _corrupt({"started_at": "yesterday"}),
        _corrupt({"expires_at": None}),
        _corrupt({"answers": ["consent"]}),
        _corrupt({"answers": {"consent": {"value": "yes", "at": T0.isoformat()}}}),
        _corrupt({"answers": {"consent": "yes"}}),
        None,
        "not a state",
        [],
    ],
    ids=[
        "no-run-id",
        "no-answers",
        "unknown-status",
        "seq-not-a-number",
        "bad-date",
        "null-date",
        "answers-a-list",
        "answer-without-seq",
        "answer-not-a-mapping",
        "none",
        "a-string",
        "a-list",
    ],
)
def test_corrupt_state_raises_run_state_error(data: Any) -> None:
    assert RunState.from_dict(_corrupt())  # the uncorrupted base reads back

    with pytest.raises(RunStateError, match="run state cannot be read"):
        RunState.from_dict(data)


def test_state_of_another_flow_is_refused(flow: Flow) -> None:
    state = replace(run(flow, ["1"]).state, flow_id="other_survey")

    with pytest.raises(RunStateError, match="other_survey"):
        resume(flow, state, "1", now=T0)


def test_state_waiting_on_an_unknown_question_is_refused(flow: Flow) -> None:
    state = replace(run(flow, ["1"]).state, current="return_when")

    with pytest.raises(RunStateError, match="return_when"):
        resume(flow, state, "1", now=T0)


# --- routing over skipped questions (a small flow of its own) -------------------------------


@pytest.fixture(scope="module")
def routing_flow() -> Flow:
    """size → colour (only when size ≥ 2) → why_red (colour is red) / not_red (it is not)."""
    options = [{"code": "red", "label": "Red"}, {"code": "blue", "label": "Blue"}]
    return build_flow(
        {
            "id": "routing",
            "version": 1,
            "name": "Routing",
            "languages": {"en": "English"},
            "default_language": "en",
            "questions": [
                {"key": "size", "type": "integer", "min": 1, "max": 9, "text": "Size?"},
                {
                    "key": "colour",
                    "type": "choice",
                    "text": "Colour?",
                    "options": options,
                    "when": {"size": {"min": 2}},
                },
                {
                    "key": "why_red",
                    "type": "text",
                    "min": 1,
                    "max": 50,
                    "text": "Why red?",
                    "when": {"colour": {"in": ["red"]}},
                },
                {
                    "key": "not_red",
                    "type": "choice",
                    "text": "Sure?",
                    "options": options,
                    "when": {"colour": {"not_in": ["red"]}},
                },
            ],
            "endings": {"completed": {"status": "completed", "text": "Done."}},
            "texts": {
                name: name
                for name in (
                    "invalid",
                    "invalid_number",
                    "too_short",
                    "too_long",
                    "confirmation",
                    "already_done",
                    "resume",
                    "resume_continue",
                    "resume_restart",
                    "more",
                    "back",
                    "reminder",
                )
            },
        },
        source="routing.yaml",
    )


@pytest.mark.parametrize(
    ("inputs", "asked_keys"),
    [
        (["1", "1"], ["size", "not_red"]),  # colour skipped: "in" fails, "not_in" holds
        (["2", "red", "because"], ["size", "colour", "why_red"]),
        (["2", "blue", "1"], ["size", "colour", "not_red"]),
    ],
)
def test_conditions_on_a_skipped_question(
    routing_flow: Flow, inputs: list[str], asked_keys: list[str]
) -> None:
    step = start(routing_flow, run_id=RUN_ID, language=None, now=T0)
    seen = [asked(step).key]
    for text in inputs:
        step = resume(routing_flow, step.state, text, now=T0)
        seen += [e.key for e in step.events if isinstance(e, QuestionAsked)]

    assert seen == asked_keys
    assert step.state.status is RunStatus.COMPLETED
