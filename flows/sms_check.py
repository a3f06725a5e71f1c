"""What ``flows check`` says about a flow's SMS: every message over one SMS, and texts that
leave GSM-7.

Every message the gateway can compose from a flow is measured as it is sent, in each of the
flow's languages: each question, each question after each error its type can get and after
each of its checks' errors, the offer after a USSD drop with each question, the reminder, the
confirmation, each ending and each other flow text. The questions, the offer, the reminder and
the confirmation are composed by ``flows.sms_compose``, the code that composes what is sent.
Pure: no I/O.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from flows.checks import check_error
from flows.engine import ERROR_FALLBACKS, REJECTIONS, error_text, question_asked
from flows.gsm7 import GSM7_SINGLE, UCS2_SINGLE, measure_sms, non_gsm7
from flows.model import Flow, QuestionType, Texts, localise
from flows.sms_compose import (
    CONFIRMATION_TEXT,
    OFFER_TEXT,
    REMINDER_TEXT,
    confirmation_sms,
    offer_sms,
    question_sms,
    reminder_sms,
    sms_text,
)

# What a ``{placeholder}`` in a flow text is measured as. The values filled in at run time are a
# 6-character reference code or a number bound (``{min}``, ``{max}``) of a few digits; measuring
# the braces instead would count each as 2 septets (they are in GSM-7's extension table).
PLACEHOLDER_SAMPLE = "000000"


@dataclass(frozen=True, slots=True)
class ComposedSms:
    """One message as the gateway would send it: what it is, in which language, its body."""

    what: str
    language: str
    body: str


def composed_sms(flow: Flow) -> list[ComposedSms]:
    """Every SMS the gateway can compose from ``flow``, in each of its languages, as sent."""
    found: list[ComposedSms] = []
    for language in flow.languages:
        found.extend(ComposedSms(what, language, body) for what, body in _bodies(flow, language))
    return found


def sms_overruns(flow: Flow) -> list[str]:
    """One line for each composed SMS of ``flow`` over one segment, with its length."""
    lines: list[str] = []
    for message in composed_sms(flow):
        measure = measure_sms(message.body)
        if measure.segments > 1:
            lines.append(
                f"{flow.source}: {message.what} [{message.language}]: needs"
                f" {measure.segments} SMS segments ({measure.units} of {GSM7_SINGLE} GSM-7"
                " characters)"
            )
    return lines


def sms_warnings(flow: Flow) -> list[str]:
    """Warnings for every text of ``flow`` that leaves GSM-7 as written (it is sent rendered)."""
    warnings: list[str] = []
    for language in flow.languages:
        for what, text in _written_texts(flow, language):
            outside = non_gsm7(text)
            if outside:
                names = ", ".join(_show(c) for c in outside)
                warnings.append(
                    f"{flow.source}: {what} [{language}]: leaves GSM-7 ({names}): sent as"
                    f" written it would switch the whole SMS to UCS-2 ({UCS2_SINGLE} characters)"
                )
    return warnings


def _bodies(flow: Flow, language: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for question in flow.questions:
        if question.type is QuestionType.NOTE:
            continue  # never sent alone: shown above the next question
        where = f"question '{question.key}'"
        asked = question_asked(flow, question, language)
        found.append((where, question_sms(asked)))
        for reason in REJECTIONS.get(question.type, {}):
            error = error_text(flow, question, reason, language)
            again = question_asked(flow, question, language, error=error)
            found.append((f"{where} after the error '{reason}'", question_sms(again)))
        for check in question.checks:
            error = check_error(check, PLACEHOLDER_SAMPLE, language, flow.default_language)
            again = question_asked(flow, question, language, error=error)
            found.append((f"{where} after its check '{check.op}'", question_sms(again)))
        if flow.offer_sms_after_ussd_drop:
            found.append((f"offer '{OFFER_TEXT}' with {where}", offer_sms(flow, asked, language)))
    if flow.has_text(REMINDER_TEXT):
        found.append((f"text '{REMINDER_TEXT}'", reminder_sms(flow, language)))
    if flow.has_text(CONFIRMATION_TEXT):
        confirmation = confirmation_sms(flow, language, PLACEHOLDER_SAMPLE)
        found.append((f"text '{CONFIRMATION_TEXT}'", confirmation))
    for key, ending in flow.endings.items():
        text = localise(ending.text, language, flow.default_language)
        found.append((f"ending '{key}'", sms_text(text)))
    for name in flow.texts:
        if name not in _COMPOSED_TEXTS:
            found.append((f"text '{name}'", sms_text(_filled(flow.text(name, language)))))
    return found


# Texts sent only inside a composed message above, and measured there.
_COMPOSED_TEXTS = frozenset(
    {
        OFFER_TEXT,
        REMINDER_TEXT,
        CONFIRMATION_TEXT,
        *(name for texts in REJECTIONS.values() for name in texts.values()),
        *ERROR_FALLBACKS.values(),
    }
)


def _written_texts(flow: Flow, language: str) -> list[tuple[str, str]]:
    # A text missing in ``language`` is sent in the default language, so that one is checked.
    def pick(texts: Texts) -> str:
        return localise(texts, language, flow.default_language)

    found: list[tuple[str, str]] = []
    for question in flow.questions:
        written = "\n".join([pick(question.text), *(pick(o.label) for o in question.options)])
        found.append((f"question '{question.key}'", written))
    for key, ending in flow.endings.items():
        found.append((f"ending '{key}'", pick(ending.text)))
    for name, texts in flow.texts.items():
        found.append((f"text '{name}'", pick(texts)))
    return found


def _filled(template: str) -> str:
    """``template`` with each named placeholder replaced by a sample of a typical length."""
    try:
        return template.format_map(_Samples())
    except (IndexError, KeyError, ValueError):
        # Not a template str.format can fill (a positional {} or a stray brace): as written.
        return template


class _Samples(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return PLACEHOLDER_SAMPLE


def _show(char: str) -> str:
    # A no-break space or a combining accent printed as itself cannot be seen in a warning.
    if unicodedata.category(char)[0] in "CMZ":
        return f"U+{ord(char):04X}"
    return char
