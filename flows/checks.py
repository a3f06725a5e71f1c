"""Rules between answers: a number checked against an earlier answer of the same run.

A flow file says, on a question, that its answer may not be above (or below) the answer to an
earlier one, and what to tell the person when it is. Pure: the engine calls it once an answer
has parsed.
"""

from __future__ import annotations

from collections.abc import Mapping

from flows.model import Check, CheckOp, Question, localise
from flows.run import Answer


def broken_check(
    question: Question, value: str, answers: Mapping[str, Answer]
) -> tuple[Check, str] | None:
    """The first rule of ``question`` that ``value`` breaks, with the earlier answer it broke
    against; None when it keeps them all. A rule on a question that was skipped holds."""
    for check in question.checks:
        earlier = answers.get(check.key)
        if earlier is None:
            continue
        number, limit = float(value), float(earlier.value)
        if check.op is CheckOp.NOT_ABOVE and number > limit:
            return check, earlier.value
        if check.op is CheckOp.NOT_BELOW and number < limit:
            return check, earlier.value
    return None


def check_error(check: Check, limit: str, language: str, default_language: str) -> str:
    """The rule's error in ``language``, naming the earlier answer it compares with."""
    return localise(check.error, language, default_language).replace("{limit}", limit)
