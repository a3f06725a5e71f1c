"""The question kinds and routing that XLSForms bring: several choices, decimals, notes and
options filtered by an earlier answer.

Pure functions the engine calls; kept apart from ``flows.engine`` so the plain choice, integer
and text questions read as before.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import replace

from flows.model import Condition, Flow, Question, QuestionType, localise
from flows.run import Answer, RejectReason

EXTENDED_TYPES = frozenset({QuestionType.MULTI_CHOICE, QuestionType.DECIMAL})
"""Answer types ``parse_extended`` reads."""

_DECIMAL = re.compile(r"-?\d{1,9}(?:[.,]\d{1,6})?")


def parse_extended(question: Question, cleaned: str) -> str | RejectReason:
    """The stored value of ``cleaned`` (spaces already squeezed) for a question of
    ``EXTENDED_TYPES``, or why it is not one."""
    if question.type is QuestionType.MULTI_CHOICE:
        return _parse_multi(question, cleaned)
    return _parse_decimal(question, cleaned)


def _parse_multi(question: Question, cleaned: str) -> str | RejectReason:
    # "1 3", "1,3" or "1, 3": numbers of options, each once, in any order.
    numbers = [n for n in re.split(r"[\s,;]+", cleaned) if n]
    if not numbers or not all(n.isdecimal() and len(n) <= 3 for n in numbers):
        return RejectReason.NOT_A_CHOICE
    chosen = {int(n) for n in numbers}
    if not all(1 <= n <= len(question.options) for n in chosen):
        return RejectReason.NOT_A_CHOICE
    # Stored in the options' order, so the same choice is always stored the same way.
    return " ".join(o.code for i, o in enumerate(question.options, 1) if i in chosen)


def _parse_decimal(question: Question, cleaned: str) -> str | RejectReason:
    if not _DECIMAL.fullmatch(cleaned):
        return RejectReason.NOT_A_NUMBER
    # A French keypad user writes 2,5: stored with a point, as XLSForm does.
    value = cleaned.replace(",", ".")
    number = float(value)
    if question.minimum is not None and number < question.minimum:
        return RejectReason.OUT_OF_RANGE
    if question.maximum is not None and number > question.maximum:
        return RejectReason.OUT_OF_RANGE
    return value


def narrowed(question: Question, answers: Mapping[str, Answer]) -> Question:
    """``question`` with only the options its choice filter lets through on ``answers``."""
    rule = question.choice_filter
    if rule is None:
        return question
    answer = answers.get(rule.answer)
    wanted = answer.value if answer is not None else None
    kept = tuple(o for o in question.options if o.property(rule.property) == wanted)
    return replace(question, options=kept)


def notes_shown(
    flow: Flow,
    answers: Mapping[str, Answer],
    *,
    after: str | None,
    before: str | None,
    holds: Callable[[Condition, Mapping[str, Answer]], bool],
) -> tuple[Question, ...]:
    """The notes between question ``after`` and question ``before`` (None: the flow's start or
    end) whose condition holds: shown above the next screen, as they have no answer."""
    keys = flow.question_keys
    first = 0 if after is None else keys.index(after) + 1
    last = len(keys) if before is None else keys.index(before)
    return tuple(
        q
        for q in flow.questions[first:last]
        if q.type is QuestionType.NOTE and (q.when is None or holds(q.when, answers))
    )


def with_notes(notes: tuple[Question, ...], text: str, language: str, default: str) -> str:
    """``text`` under the texts of ``notes``, one per line."""
    if not notes:
        return text
    return "\n".join([*(localise(n.text, language, default) for n in notes), text])


def selected(value: str, code: str) -> bool:
    """XLSForm's selected(): whether a multi-choice answer (codes joined by spaces) has
    ``code``; a single choice has it when it is that code."""
    return code in value.split()
