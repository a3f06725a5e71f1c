"""What an enumerators' report flow adds to an XLSForm, both ways: the settings sheet's
``subject`` column, and rules between answers written in ``constraint`` (``. <= ${q}`` is the
flow's ``not_above: q``, ``. >= ${q}`` its ``not_below: q``) with ``constraint_message`` as the
rule's error."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from flows import Flow, Question
from gateway.surveys.xlsform_expressions import check_expression
from gateway.surveys.xlsform_rules import Problem

# What a form's runs are about: the settings sheet's ``subject`` column.
SUBJECTS = ("respondent", "report")
NUMBER_KINDS = ("integer", "decimal")
# Texts spoken to a respondent (reminders, opting out, erasure): a report is an enumerator's,
# so an imported report gets no default for them, as its flow file has none.
RESPONDENT_TEXTS = frozenset(
    {"reminder", "help", "started", "stopped", "deleted", "language_set", "paused"}
)


def form_subject(settings: Mapping[str, str]) -> tuple[str | None, list[Problem]]:
    """The flow's ``subject`` from the settings sheet (None when the column is absent)."""
    subject = settings.get("subject")
    if subject is None or subject in SUBJECTS:
        return subject, []
    why = (
        f"'{subject}': a form is about a respondent (the default) or is an enumerator's"
        f" report about a place: {' or '.join(SUBJECTS)}"
    )
    return subject, [Problem("settings", 2, "subject", why)]


def check_rules(
    number: int, rules: Sequence[tuple[str, str]], kinds: Mapping[str, str]
) -> tuple[list[dict[str, Any]], list[Problem]]:
    """A survey row's rules between answers as the flow writes them, and what is wrong with
    them: each compares with an earlier number question."""
    problems = [
        Problem(
            "survey",
            number,
            "constraint",
            f"${{{other}}} is not an earlier integer or decimal question: a rule between"
            " answers compares this number with an earlier one",
        )
        for _, other in rules
        if kinds.get(other) not in NUMBER_KINDS
    ]
    return [{op: other} for op, other in rules], problems


def check_errors(
    number: int, checks: list[dict[str, Any]], error: Mapping[str, str], languages: Iterable[str]
) -> list[Problem]:
    """Give each rule the row's ``constraint_message``, which must be there in every
    language: it is all the enumerator learns of what is wrong."""
    for check in checks:
        check["error"] = dict(error)
    missing = [code for code in languages if code not in error]
    if not missing:
        return []
    why = (
        f"no message in {', '.join(missing)}: a rule against an earlier answer says what is"
        " wrong ({limit} shows the earlier answer)"
    )
    return [Problem("survey", number, "constraint_message", why)]


def check_constraints(question: Question) -> list[str]:
    """The question's rules between answers as ``constraint`` terms."""
    return [check_expression(check.op.value, check.key) for check in question.checks]


def constraint_message(flow: Flow, question: Question) -> Mapping[str, str] | None:
    """The row's ``constraint_message``: the rules' error when there are rules, else the
    question's own error. One column per language holds one message, so a question whose
    rules say different things, or that has its own error too, cannot be written."""
    if not question.checks:
        return question.error
    errors = {tuple(sorted(check.error.items())) for check in question.checks}
    if len(errors) > 1 or question.error:
        raise ValueError(
            f"{flow.id}, question '{question.key}': an XLSForm row has one constraint_message"
            " per language, so its rules between answers (and the question) must share one error"
        )
    return question.checks[0].error
