"""Checks of the loader that follow references beyond a question's own fields: its choice
filter, its rules against earlier answers, and what a report flow may not have."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from flows.errors import FlowError
from flows.model import (
    Check,
    CheckOp,
    ChoiceFilter,
    Ending,
    Option,
    Question,
    QuestionType,
    Texts,
)


def choice_filter_of(
    spec: dict[str, Any],
    options: Sequence[Option],
    earlier: Sequence[Question],
    fail: Callable[[str | None, str], FlowError],
) -> ChoiceFilter | None:
    """The question's choice filter, checked against its options and the earlier questions."""
    raw = spec.get("choice_filter")
    if raw is None:
        return None
    key: str = spec["key"]
    rule = ChoiceFilter(property=raw["property"], answer=raw["answer"])
    target = next((q for q in earlier if q.key == rule.answer), None)
    if target is None:
        raise fail(key, f"choice_filter uses '{rule.answer}', which is not an earlier question")
    if target.type is not QuestionType.CHOICE:
        raise fail(key, f"choice_filter on '{rule.answer}' needs a single-choice question")
    if not any(o.property(rule.property) is not None for o in options):
        raise fail(key, f"choice_filter: no option has the property '{rule.property}'")
    return rule


NUMBER_TYPES = (QuestionType.INTEGER, QuestionType.DECIMAL)
# What a report's completed ending must show: the reference ANNULER takes.
REPORT_REFERENCE = "{ref}"


def checks_of(
    spec: dict[str, Any],
    earlier: Sequence[Question],
    texts: Callable[[Any, str, str], Texts],
    fail: Callable[[str | None, str], FlowError],
) -> tuple[Check, ...]:
    """The question's rules against earlier answers; each names an earlier number question."""
    key: str = spec["key"]
    found: list[Check] = []
    for rule in spec.get("check", []):
        ((op, other),) = ((k, v) for k, v in rule.items() if k != "error")
        target = next((q for q in earlier if q.key == other), None)
        if target is None:
            raise fail(key, f"check '{op}' uses '{other}', which is not an earlier question")
        if target.type not in NUMBER_TYPES:
            raise fail(key, f"check '{op}' on '{other}' needs an integer or decimal question")
        found.append(Check(CheckOp(op), other, texts(rule["error"], key, f"error of check '{op}'")))
    return tuple(found)


def check_report(
    endings: Mapping[str, Ending], flow_texts: Mapping[str, Texts], fail: Callable[..., FlowError]
) -> None:
    """A report is an enumerator's, about a place: nobody declines it, and its thanks carry
    the reference an enumerator withdraws it with."""
    declined = sorted(k for k, e in endings.items() if e.status != "completed")
    if declined:
        raise fail(None, f"a report has no consent to decline: ending(s) {declined} not allowed")
    for language, text in endings["completed"].text.items():
        if REPORT_REFERENCE not in text:
            raise fail(None, f"ending 'completed' [{language}] must show the report's {{ref}}")
    if "confirmation" in flow_texts:
        raise fail(None, "texts: a report has no 'confirmation': its ending shows the {ref}")
