"""The SMS a flow sends, composed: one copy for the senders and for ``flows check``.

The SMS handler and the workers send what these functions return, and ``flows.sms_check``
measures what they return for every question, error and language: a message that passes the
check is the message sent. Every body is rendered in GSM-7 (``to_gsm7``), where one SMS holds
160 characters.

A question goes out as its text then one numbered line per option. A line before it (the error
after a wrong answer, the offer after a USSD drop) makes a twelve-option question too long for
one SMS: then the question's text is left out and the line and the options stay, which is all
a household needs to answer (the error or offer says what to send). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence

from flows.gsm7 import measure_sms, to_gsm7
from flows.model import Flow
from flows.run import QuestionAsked

CONFIRMATION_TEXT = "confirmation"
"""The flow text sent once a completed run is stored, with its reference."""
REMINDER_TEXT = "reminder"
OFFER_TEXT = "continue_by_sms"


def render_sms_question(text: str, labels: Sequence[str]) -> str:
    """A question as one SMS: its text, then one line per option numbered from 1 ("1.Oui").

    No space after the number: on a twelve-option menu that is the difference between one
    SMS and two.
    """
    return "\n".join([text, *_numbered(labels)])


def sms_text(body: str) -> str:
    """The GSM-7 rendering of ``body``: 160 characters a part instead of UCS-2's 70."""
    return to_gsm7(body)


def question_sms(asked: QuestionAsked) -> str:
    """A question as one SMS: the error first if any, the question, then numbered options."""
    return _with_question(asked.error, asked)


def offer_sms(flow: Flow, asked: QuestionAsked, language: str) -> str:
    """The SMS after a dropped USSD session: the offer to go on by SMS, then the question."""
    return _with_question(flow.text(OFFER_TEXT, language), asked)


def reminder_sms(flow: Flow, language: str) -> str:
    """The reminder of a run that waits for an answer."""
    return sms_text(flow.text(REMINDER_TEXT, language))


def confirmation_sms(flow: Flow, language: str, reference: str) -> str:
    """The confirmation of a completed run: its reference code, never the answers."""
    return sms_text(flow.text(CONFIRMATION_TEXT, language, reference=reference))


def _with_question(lead: str | None, asked: QuestionAsked) -> str:
    labels = [choice.label for choice in asked.choices]
    question = render_sms_question(asked.text, labels)
    if not lead:
        return sms_text(question)
    full = sms_text(f"{lead}\n{question}")
    if not labels or measure_sms(full).segments == 1:
        return full
    # The household has the question's text already (the SMS before, or the USSD screen it
    # was answering): its options are what it needs to answer in this one.
    return sms_text("\n".join([lead, *_numbered(labels)]))


def _numbered(labels: Sequence[str]) -> list[str]:
    return [f"{number}.{label}" for number, label in enumerate(labels, 1)]
