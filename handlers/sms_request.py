"""AT's inbound SMS callback, read: the fields checked and normalised, and what the first word
of a text asks for (see ``handlers.sms``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from anyascii import anyascii

from handlers.phone import normalise_phone
from handlers.typed_text import without_controls

MAX_SMS_TEXT = 1600
"""Longest inbound text taken: ten concatenated parts; anything longer is not an answer."""


class Keyword(StrEnum):
    """What a first word asks for."""

    STOP = "stop"
    START = "start"
    DELETE = "delete"
    HELP = "help"
    LANGUAGE = "language"
    CONTINUE = "continue"


KEYWORDS: Mapping[str, Keyword] = {
    "STOP": Keyword.STOP,
    "ARRET": Keyword.STOP,
    "START": Keyword.START,
    "REPRENDRE": Keyword.START,
    "DELETE": Keyword.DELETE,
    "EFFACER": Keyword.DELETE,
    "AIDE": Keyword.HELP,
    "HELP": Keyword.HELP,
    "EN": Keyword.LANGUAGE,
    "FR": Keyword.LANGUAGE,
    "LANGUE": Keyword.LANGUAGE,
    "LANGUAGE": Keyword.LANGUAGE,
    "SUITE": Keyword.CONTINUE,
    "CONTINUE": Keyword.CONTINUE,
}


@dataclass(frozen=True, slots=True)
class InboundSms:
    """One SMS from a phone, as AT reported it."""

    message_id: str
    phone: str
    text: str
    received_at: datetime


@dataclass(frozen=True, slots=True)
class BadSms:
    """An inbound callback that cannot be taken; ``problem`` says why."""

    problem: str


def parse_sms(form: Mapping[str, str], default_region: str, now: datetime) -> InboundSms | BadSms:
    """Check and normalise AT's inbound SMS fields."""
    missing = [name for name in ("id", "from") if not form.get(name, "").strip()]
    if missing:
        return BadSms(f"missing field(s): {', '.join(missing)}")
    message_id = form["id"].strip()
    text = form.get("text", "")
    if len(message_id) > 100 or len(text) > MAX_SMS_TEXT:
        return BadSms("field too long")
    if not re.fullmatch(r"[A-Za-z0-9_-]+", message_id):
        # AT's ids are like "ATXid_..."; ours become job ids and Redis keys, so nothing else.
        return BadSms("id has characters AT's ids never have")
    phone = normalise_phone(form["from"], default_region)
    if phone is None:
        # Short codes and alphanumeric senders (network notices) cannot answer a survey.
        return BadSms("from is not a phone number")
    # Cleaned at the edge: everything inside (keywords, answers, the database) sees plain text.
    text = without_controls(text)
    return InboundSms(message_id=message_id, phone=phone, text=text, received_at=now)


def first_word(text: str) -> str:
    """The first word of ``text``, upper-case ASCII, punctuation dropped."""
    words = text.split()
    return re.sub(r"[^A-Z0-9]", "", anyascii(words[0]).upper()) if words else ""


def asked_language(text: str) -> str:
    """The language a language keyword asks for ("EN" or "LANGUE en": "en"); else ""."""
    word = first_word(text)
    if KEYWORDS.get(word) is not Keyword.LANGUAGE:
        return ""
    if word in ("LANGUE", "LANGUAGE"):
        words = text.split()
        return first_word(words[1]).lower() if len(words) > 1 else ""
    return word.lower()
