"""Warnings about a flow's texts as SMS: characters that leave GSM-7, and texts over one SMS.

A flow is valid without these; they are warnings for whoever writes the flow. Every text an SMS
would carry is checked in each of the flow's languages: each question as ``render_sms_question``
renders it, each ending, and each flow text. Pure: no I/O.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from flows.gsm7 import GSM7_SINGLE, UCS2_SINGLE, Encoding, measure_sms, non_gsm7, to_gsm7
from flows.model import Flow, Texts, localise

# What a ``{placeholder}`` in a flow text is measured as. The values filled in at run time are a
# 6-character reference code or a number bound (``{min}``, ``{max}``) of a few digits; measuring
# the braces instead would count each as 2 septets (they are in GSM-7's extension table).
PLACEHOLDER_SAMPLE = "000000"


def render_sms_question(text: str, labels: Sequence[str]) -> str:
    """A question as one SMS: its text, then one line per option numbered from 1 ("1.Oui").

    No space after the number: on a twelve-option menu that is the difference between one
    SMS and two.
    """
    return "\n".join([text, *(f"{number}.{label}" for number, label in enumerate(labels, 1))])


def sms_warnings(flow: Flow) -> list[str]:
    """Warnings for every text of ``flow`` that leaves GSM-7 or needs more than one SMS."""
    warnings: list[str] = []
    for language in flow.languages:
        for what, text in _sms_texts(flow, language):
            where = f"{flow.source}: {what} [{language}]"
            outside = non_gsm7(text)
            if outside:
                names = ", ".join(_show(c) for c in outside)
                warnings.append(
                    f"{where}: leaves GSM-7 ({names}): sent as written it would switch the whole"
                    f" SMS to UCS-2 ({UCS2_SINGLE} characters)"
                )
            measure = measure_sms(to_gsm7(text))
            # to_gsm7 always measures as GSM-7; the check keeps a UCS-2 count out of the message.
            if measure.encoding is Encoding.GSM7 and measure.segments > 1:
                warnings.append(
                    f"{where}: needs {measure.segments} SMS segments"
                    f" ({measure.units} of {GSM7_SINGLE} GSM-7 characters)"
                )
    return warnings


def _sms_texts(flow: Flow, language: str) -> list[tuple[str, str]]:
    # A text missing in ``language`` is sent in the default language, so that one is measured.
    def pick(texts: Texts) -> str:
        return localise(texts, language, flow.default_language)

    found: list[tuple[str, str]] = []
    for question in flow.questions:
        labels = [pick(option.label) for option in question.options]
        found.append(
            (f"question '{question.key}'", render_sms_question(pick(question.text), labels))
        )
    for key, ending in flow.endings.items():
        found.append((f"ending '{key}'", pick(ending.text)))
    for name, texts in flow.texts.items():
        found.append((f"text '{name}'", _filled(pick(texts))))
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
