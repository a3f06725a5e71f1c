"""The survey engine: a pure state machine over a flow.

``start`` and ``resume`` take a run state (plus an input) and return a ``Step``: the new state
and the events that happened (answer recorded, input rejected, question asked, run ended).
Nothing here sends, stores or logs: the host acts on the events. Time and run ids are given
by the caller, so the same inputs always give the same events.

The run state and the events are in ``flows.run``. Invariant of a run state: ``path`` lists the
questions asked, in order, ending with the current one; ``answers`` holds exactly the answers
to the questions on the path before the current one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

from anyascii import anyascii

from flows.checks import broken_check, check_error
from flows.errors import RunStateError
from flows.extended import (
    EXTENDED_TYPES,
    narrowed,
    notes_shown,
    parse_extended,
    selected,
    with_notes,
)
from flows.model import Condition, Flow, Option, Question, QuestionType, Test, localise
from flows.run import (
    Answer,
    AnswerRecorded,
    Choice,
    InputRejected,
    QuestionAsked,
    RejectReason,
    RunEnded,
    RunState,
    RunStatus,
    Step,
)

COMPLETED_ENDING = "completed"
EXPIRED_ENDING = "expired"


def start(flow: Flow, *, run_id: str, language: str | None, now: datetime) -> Step:
    """Begin a new run of ``flow``: the first question is asked."""
    first = _next_question(flow, {}, after=None)
    if first is None:
        raise RunStateError(f"flow '{flow.id}' asks nothing")
    state = RunState(
        run_id=run_id,
        flow_id=flow.id,
        flow_version=flow.version,
        language=flow.language_or_default(language),
        status=RunStatus.ACTIVE,
        current=first.key,
        path=(first.key,),
        answers={},
        seq=0,
        invalid_count=0,
        started_at=now,
        updated_at=now,
        expires_at=now + flow.expiry,
    )
    return Step(state, (ask(flow, state),))


def resume(flow: Flow, state: RunState, text: str, *, now: datetime) -> Step:
    """Give the run one input: record it and move on, or reject it and ask again."""
    question = _current(flow, state)
    if question is None or not state.is_active:
        return show(flow, state)
    if now >= state.expires_at:
        return _expire(flow, state, now)
    parsed = parse_answer(question, text)
    error: str | None = None
    if not isinstance(parsed, RejectReason) and (
        broken := broken_check(question, parsed, state.answers)
    ):
        error = check_error(*broken, state.language, flow.default_language)
        parsed = RejectReason.CHECK_FAILED
    if isinstance(parsed, RejectReason):
        rejected = replace(state, invalid_count=state.invalid_count + 1, updated_at=now)
        error = error or error_text(flow, question, parsed, state.language)
        return Step(
            rejected,
            (InputRejected(question.key, text, parsed), ask(flow, rejected, error=error)),
        )
    seq = state.seq + 1
    answers = {**state.answers, question.key: Answer(parsed, seq, now)}
    recorded = AnswerRecorded(question.key, parsed, seq, now)
    base = replace(state, answers=answers, seq=seq, invalid_count=0, updated_at=now)
    chosen = _option(question, parsed)
    if chosen is not None and chosen.end is not None:
        return _end(flow, base, chosen.end, recorded)
    following = _next_question(flow, answers, after=question.key)
    if following is None:
        return _end(flow, base, COMPLETED_ENDING, recorded)
    moved = replace(base, current=following.key, path=(*state.path, following.key))
    return Step(moved, (recorded, ask(flow, moved)))


def back(flow: Flow, state: RunState, *, now: datetime) -> Step:
    """Go back one question; its answer is forgotten until given again."""
    if not state.is_active or len(state.path) < 2:
        return show(flow, state)
    path = state.path[:-1]
    previous = path[-1]
    answers = {k: a for k, a in state.answers.items() if k != previous}
    moved = replace(
        state, current=previous, path=path, answers=answers, invalid_count=0, updated_at=now
    )
    return Step(moved, (ask(flow, moved),))


def switch_language(flow: Flow, state: RunState, language: str, *, now: datetime) -> Step:
    """Show the run in another of the flow's languages from now on."""
    switched = replace(state, language=flow.language_or_default(language), updated_at=now)
    return show(flow, switched)


def show(flow: Flow, state: RunState) -> Step:
    """Show the current screen again, changing nothing."""
    if state.is_active:
        return Step(state, (ask(flow, state),))
    ending = flow.endings.get(state.ending or "")
    text = localise(ending.text, state.language, flow.default_language) if ending else ""
    return Step(state, (RunEnded(state.status, state.ending or "", text),))


def ask(flow: Flow, state: RunState, *, error: str | None = None) -> QuestionAsked:
    """The current question, in the run's language, under the notes that lead to it."""
    question = _current(flow, state)
    if question is None:
        raise RunStateError(f"run {state.run_id} has no current question")
    previous = state.path[-2] if len(state.path) > 1 else None
    notes = notes_shown(flow, state.answers, after=previous, before=question.key, holds=holds)
    return question_asked(flow, question, state.language, error=error, notes=notes)


def question_asked(
    flow: Flow,
    question: Question,
    language: str,
    *,
    error: str | None = None,
    notes: tuple[Question, ...] = (),
) -> QuestionAsked:
    """``question`` as asked in ``language``, under ``notes``, after ``error`` if one is given."""
    choices = tuple(
        Choice(number, option.code, localise(option.label, language, flow.default_language))
        for number, option in enumerate(question.options, start=1)
    )
    text = localise(question.text, language, flow.default_language)
    text = with_notes(notes, text, language, flow.default_language)
    return QuestionAsked(question.key, text, choices, error)


def parse_answer(question: Question, text: str) -> str | RejectReason:
    """The stored value for ``text`` as an answer to ``question``, or why it is not one."""
    cleaned = " ".join(text.split())
    if not cleaned:
        return RejectReason.EMPTY
    if question.type in EXTENDED_TYPES:
        return parse_extended(question, cleaned)
    if question.type is QuestionType.CHOICE:
        return _parse_choice(question.options, cleaned)
    if question.type is QuestionType.INTEGER:
        if not re.fullmatch(r"\d{1,9}", cleaned):
            return RejectReason.NOT_A_NUMBER
        number = int(cleaned)
        low = question.minimum if question.minimum is not None else number
        high = question.maximum if question.maximum is not None else number
        return str(number) if low <= number <= high else RejectReason.OUT_OF_RANGE
    if question.minimum is not None and len(cleaned) < question.minimum:
        return RejectReason.TOO_SHORT
    if question.maximum is not None and len(cleaned) > question.maximum:
        return RejectReason.TOO_LONG
    return cleaned


def _parse_choice(options: tuple[Option, ...], cleaned: str) -> str | RejectReason:
    number = cleaned.rstrip(".)")
    # Decimal digits of any script ("2", "٢"); "²" or "①" pass isdigit() but are no number.
    if number.isdecimal() and len(number) <= 9:
        index = int(number)
        return options[index - 1].code if 1 <= index <= len(options) else RejectReason.NOT_A_CHOICE
    # A word answer (SMS): the option's code, its label in any language or one of its aliases,
    # case and accents ignored.
    wanted = _fold(cleaned)
    matches = {
        option.code
        for option in options
        if wanted
        in {_fold(option.code), *(_fold(v) for v in (*option.label.values(), *option.aliases))}
    }
    return matches.pop() if len(matches) == 1 else RejectReason.NOT_A_CHOICE


def _fold(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", anyascii(text).casefold()).split())


# The reasons an answer to each type of question can be refused for, each with the flow text
# that says so. An empty answer gets the type's first text.
_NUMBER_REJECTIONS: Mapping[RejectReason, str] = {
    RejectReason.NOT_A_NUMBER: "invalid_number",
    RejectReason.OUT_OF_RANGE: "out_of_range",
}
REJECTIONS: Mapping[QuestionType, Mapping[RejectReason, str]] = {
    QuestionType.CHOICE: {RejectReason.NOT_A_CHOICE: "invalid"},
    QuestionType.MULTI_CHOICE: {RejectReason.NOT_A_CHOICE: "invalid"},
    QuestionType.INTEGER: _NUMBER_REJECTIONS,
    QuestionType.DECIMAL: _NUMBER_REJECTIONS,
    QuestionType.TEXT: {RejectReason.TOO_SHORT: "too_short", RejectReason.TOO_LONG: "too_long"},
}
# Texts a flow may leave out, and the one said instead: "invalid_number" names {min} and {max},
# so it can say both (flows written before "out_of_range" existed have only it).
ERROR_FALLBACKS: Mapping[str, str] = {"out_of_range": "invalid_number"}


def error_text(flow: Flow, question: Question, reason: RejectReason, language: str) -> str:
    """What a respondent is told when their answer to ``question`` is refused for ``reason``:
    the question's own error (an XLSForm's constraint_message) or the flow's text for it."""
    if question.error is not None:
        return localise(question.error, language, flow.default_language)
    texts = REJECTIONS.get(question.type, REJECTIONS[QuestionType.CHOICE])
    name = texts.get(reason) or next(iter(texts.values()))
    if name == "invalid":
        return flow.text(name, language)
    if not flow.has_text(name):
        name = ERROR_FALLBACKS.get(name, name)
    return flow.text(name, language, min=question.minimum, max=question.maximum)


def _current(flow: Flow, state: RunState) -> Question | None:
    if state.flow_id != flow.id:
        raise RunStateError(f"run {state.run_id} belongs to flow '{state.flow_id}'")
    if state.current is None:
        return None
    try:
        return narrowed(flow.question(state.current), state.answers)
    except KeyError as exc:
        raise RunStateError(f"run {state.run_id} waits on unknown '{state.current}'") from exc


def _option(question: Question, code: str) -> Option | None:
    return next((o for o in question.options if o.code == code), None)


def _next_question(
    flow: Flow, answers: Mapping[str, Answer], *, after: str | None
) -> Question | None:
    keys = flow.question_keys
    start_at = 0 if after is None else keys.index(after) + 1
    for question in flow.questions[start_at:]:
        if question.type is QuestionType.NOTE:
            continue  # no answer to wait for: shown above the next screen
        if question.when is None or holds(question.when, answers):
            return question
    return None


def holds(condition: Condition, answers: Mapping[str, Answer]) -> bool:
    """Whether a routing condition holds on the answers given so far."""
    if not all(_passes(test, answers) for test in condition.all_of):
        return False
    if any(holds(c, answers) for c in condition.none_of):
        return False
    return not condition.any_of or any(holds(c, answers) for c in condition.any_of)


def _passes(test: Test, answers: Mapping[str, Answer]) -> bool:
    answer = answers.get(test.key)
    if answer is None:
        # A skipped question matches nothing, so only "not_in" can hold.
        return test.op == "not_in"
    value = answer.value
    if test.op == "in":
        return value in {str(v) for v in test.values}
    if test.op == "not_in":
        return value not in {str(v) for v in test.values}
    if test.op == "equals":
        return value == str(test.values[0])
    if test.op == "selected":
        return selected(value, str(test.values[0]))
    if test.op in ("min", "max") and re.fullmatch(r"-?\d+(?:\.\d+)?", value):
        bound = float(test.values[0])
        return float(value) >= bound if test.op == "min" else float(value) <= bound
    return False


def _end(flow: Flow, state: RunState, ending_key: str, recorded: AnswerRecorded) -> Step:
    ending = flow.endings[ending_key]
    status = RunStatus(ending.status)
    ended = replace(state, status=status, current=None, ending=ending_key)
    text = localise(ending.text, state.language, flow.default_language)
    if ending_key == COMPLETED_ENDING:
        notes = notes_shown(flow, state.answers, after=recorded.key, before=None, holds=holds)
        text = with_notes(notes, text, state.language, flow.default_language)
    return Step(ended, (recorded, RunEnded(status, ending_key, text)))


def _expire(flow: Flow, state: RunState, now: datetime) -> Step:
    expired = replace(
        state, status=RunStatus.EXPIRED, current=None, ending=EXPIRED_ENDING, updated_at=now
    )
    return Step(expired, (RunEnded(RunStatus.EXPIRED, EXPIRED_ENDING, ""),))
