"""A flow written back as an XLSForm workbook (openpyxl), to edit in a spreadsheet and import
again: ``survey``, ``choices`` and ``settings`` as KoBoToolbox and ODK read them, plus the
``gateway`` sheet with the texts an XLSForm has no place for."""

from __future__ import annotations

from io import BytesIO
from typing import Any

from openpyxl import Workbook

from flows import Flow, Question, QuestionType
from flows.model import Condition, Test, Texts
from gateway.surveys.xlsform_expressions import condition_expression
from gateway.surveys.xlsform_reports import check_constraints, constraint_message
from gateway.surveys.xlsform_settings import GATEWAY_SHEET

_SURVEY_TYPES = {
    QuestionType.CHOICE: "select_one",
    QuestionType.MULTI_CHOICE: "select_multiple",
    QuestionType.INTEGER: "integer",
    QuestionType.DECIMAL: "decimal",
    QuestionType.TEXT: "text",
    QuestionType.NOTE: "note",
}


def xlsform_bytes(flow: Flow) -> bytes:
    """The workbook of ``flow``, as the bytes of an .xlsx file."""
    book = Workbook()
    languages = [f"{name} ({code})" for code, name in flow.languages.items()]
    label = [f"label::{language}" for language in languages]
    message = [f"constraint_message::{language}" for language in languages]
    survey = book.active
    assert survey is not None
    survey.title = "survey"
    survey.append(
        [
            "type",
            "name",
            *label,
            "required",
            "relevant",
            "constraint",
            *message,
            "choice_filter",
            "hxl",
        ]
    )
    for question in flow.questions:
        survey.append(_survey_row(flow, question))

    properties = sorted(
        {name for q in flow.questions for o in q.options for name, _ in o.properties}
    )
    choices = book.create_sheet("choices")
    choices.append(["list_name", "name", *label, "end", "aliases", *properties])
    for question in flow.questions:
        for option in question.options:
            values = dict(option.properties)
            choices.append(
                [
                    question.key,
                    option.code,
                    *_texts(flow, option.label),
                    option.end or "",
                    ", ".join(option.aliases),
                    *(values.get(name, "") for name in properties),
                ]
            )

    settings = book.create_sheet("settings")
    fields = _settings(flow)
    settings.append(list(fields))
    settings.append(list(fields.values()))

    gateway = book.create_sheet(GATEWAY_SHEET)
    gateway.append(["name", *label])
    gateway.append(["title", *_texts(flow, flow.name)])
    for key, ending in flow.endings.items():
        gateway.append([f"ending.{key}", *_texts(flow, ending.text)])
    for name, texts in flow.texts.items():
        gateway.append([f"text.{name}", *_texts(flow, texts)])

    out = BytesIO()
    book.save(out)
    return out.getvalue()


def _survey_row(flow: Flow, question: Question) -> list[Any]:
    kind = _SURVEY_TYPES[question.type]
    if question.options:
        kind = f"{kind} {question.key}"
    rule = question.choice_filter
    return [
        kind,
        question.key,
        *_texts(flow, question.text),
        # Every question but a note waits for an answer over SMS and USSD.
        "" if question.type is QuestionType.NOTE else "yes",
        condition_expression(_condition_document(question.when)) if question.when else "",
        " and ".join(t for t in (_constraint(question), *check_constraints(question)) if t),
        *_texts(flow, constraint_message(flow, question) or {}),
        f"{rule.property}=${{{rule.answer}}}" if rule else "",
        question.hxl or "",
    ]


def _constraint(question: Question) -> str:
    if question.type is QuestionType.TEXT:
        subject = "string-length(.)"
    elif question.type in (QuestionType.INTEGER, QuestionType.DECIMAL):
        subject = "."
    else:
        return ""
    bounds = [
        f"{subject} {op} {_plain(value)}"
        for op, value in ((">=", question.minimum), ("<=", question.maximum))
        if value is not None
    ]
    return " and ".join(bounds)


def _condition_document(condition: Condition) -> dict[str, Any]:
    """A built condition as the flow file writes it, for ``condition_expression``."""
    document: dict[str, Any] = {}
    parts: list[dict[str, Any]] = [{test.key: _test_document(test)} for test in condition.all_of]
    if condition.any_of:
        parts.append({"any": [_condition_document(c) for c in condition.any_of]})
    parts.extend({"not": _condition_document(c)} for c in condition.none_of)
    for part in parts:
        if set(part) & set(document):
            return {"all": parts}
        document.update(part)
    return document


def _test_document(test: Test) -> dict[str, Any]:
    values = list(test.values)
    return {test.op: values if test.op in ("in", "not_in") else values[0]}


def _settings(flow: Flow) -> dict[str, Any]:
    default = f"{flow.languages[flow.default_language]} ({flow.default_language})"
    return {
        "form_id": flow.id,
        "version": str(flow.version),
        "form_title": flow.name[flow.default_language],
        "default_language": default,
        "keywords": " ".join(flow.keywords),
        "expiry_hours": _plain(flow.expiry.total_seconds() / 3600),
        "reminders_count": str(flow.reminder_count),
        "reminders_interval_hours": _plain(flow.reminder_interval.total_seconds() / 3600),
        "offer_sms_after_ussd_drop": "yes" if flow.offer_sms_after_ussd_drop else "no",
        # Only a report says what it is about: a survey of respondents reads as before.
        **({"subject": flow.subject.value} if flow.is_report else {}),
    }


def _texts(flow: Flow, texts: Texts) -> list[str]:
    return [texts.get(code, "") for code in flow.languages]


def _plain(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
