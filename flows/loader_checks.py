"""Checks of the loader for the XLSForm-born parts of a question: its choice filter."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from flows.errors import FlowError
from flows.model import ChoiceFilter, Option, Question, QuestionType


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
