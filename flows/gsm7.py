"""SMS texts measured as the network will send them, and their GSM-7 renderings.

An SMS is sent in the GSM 7-bit default alphabet (3GPP TS 23.038 § 6.2.1, formerly GSM 03.38)
when every character is in its basic table or its extension table, else in UCS-2 (UTF-16), where
a message holds 70 instead of 160 characters. One accented letter outside the table (ê, ç, œ)
therefore more than halves what one SMS carries, and every extra segment is billed.

The tables are written out here: they are 138 characters fixed by the standard, the codec
packages on PyPI (``gsm0338``, ``gsmcodecs``, ``smspdudecoder``) encode bytes but do not count
segments, and this module must stay free of dependencies beyond ``anyascii``.

Pure: no I/O, so both ``flows`` (flow checks) and ``handlers`` (sending) use this one copy.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from anyascii import anyascii

# 3GPP TS 23.038 § 6.2.1: the GSM 7-bit default alphabet, in code order 0x00-0x7F. 0x1B is the
# escape to the extension table, not a character, so it is taken out of the set below.
_BASIC_TABLE = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# 3GPP TS 23.038 § 6.2.1.1: the default extension table. Each is sent as ESC + code: 2 septets.
_EXTENSION_TABLE = "\f^{}\\[~]|€"

GSM7_BASIC = frozenset(_BASIC_TABLE) - {"\x1b"}
GSM7_EXTENSION = frozenset(_EXTENSION_TABLE)

# 3GPP TS 23.040 § 9.2.3.24.1: a concatenated SMS spends 6 octets of each part on its user
# data header, which leaves 153 septets (GSM-7) or 67 UTF-16 code units (UCS-2) per part.
GSM7_SINGLE = 160
GSM7_PART = 153
UCS2_SINGLE = 70
UCS2_PART = 67

# Typography that word processors put in texts, replaced with the plain character a reader
# expects. anyascii would do most of these too; they are listed so the rendering is a contract.
_TYPOGRAPHY = {
    "\u2018": "'",  # ‘
    "\u2019": "'",  # ’ (the French apostrophe: d’argent)
    "\u201a": "'",  # ‚
    "\u201b": "'",  # ‛
    "\u2032": "'",  # ′
    "\u201c": '"',  # “
    "\u201d": '"',  # ”
    "\u201e": '"',  # „
    "\u201f": '"',  # ‟
    "\u2033": '"',  # ″
    # Guillemets become one plain double quote, as a French reader would type them on a phone;
    # anyascii's << >> read as arrows. The space French typography puts inside them is dropped
    # by _GUILLEMET_SPACE first.
    "\u00ab": '"',  # «
    "\u00bb": '"',  # »
    "\u2039": "'",  # ‹
    "\u203a": "'",  # ›
    "\u2010": "-",  # hyphen
    "\u2011": "-",  # non-breaking hyphen
    "\u2012": "-",  # figure dash
    "\u2013": "-",  # – en dash
    "\u2014": "-",  # — em dash
    "\u2015": "-",  # horizontal bar
    "\u2212": "-",  # minus sign
    "\u2026": "...",  # …
    "\u00a0": " ",  # no-break space (French typography puts one before : ; ? !)
    "\u202f": " ",  # narrow no-break space (the same, in newer French typography)
    "\u2007": " ",  # figure space
    "\u2009": " ",  # thin space
    "\u200a": " ",  # hair space
    "\t": " ",
    "\u00ad": "",  # soft hyphen: invisible unless a line breaks there
    "\u200b": "",  # zero-width space
    "\u2060": "",  # word joiner
    "\ufeff": "",  # byte order mark left at the start of a pasted text
    "`": "'",  # ASCII, but not in GSM-7
}
_GUILLEMET_SPACE = re.compile(r"«[ \u00a0\u202f]+|[ \u00a0\u202f]+»")


class Encoding(StrEnum):
    """How an SMS is encoded on the air."""

    GSM7 = "gsm7"
    UCS2 = "ucs2"


@dataclass(frozen=True, slots=True)
class SmsMeasure:
    """The size of one SMS text as the network counts it.

    ``units`` are septets for GSM-7 (an extension-table character counts 2) and UTF-16 code
    units for UCS-2 (a character outside the BMP, such as an emoji, counts 2). ``per_segment``
    is what one segment holds: 160 or 70 for a single SMS, 153 or 67 per part once it is split.
    """

    encoding: Encoding
    units: int
    segments: int
    per_segment: int


def is_gsm7(char: str) -> bool:
    """Whether the single character ``char`` is in the GSM-7 basic or extension table."""
    return char in GSM7_BASIC or char in GSM7_EXTENSION


def non_gsm7(text: str) -> list[str]:
    """The distinct characters of ``text`` outside GSM-7, in the order they first appear."""
    return list(dict.fromkeys(c for c in text if not is_gsm7(c)))


def measure_sms(text: str) -> SmsMeasure:
    """How ``text`` is encoded and into how many segments it is split when sent as written."""
    if all(is_gsm7(c) for c in text):
        costs = [2 if c in GSM7_EXTENSION else 1 for c in text]
        return _measure(Encoding.GSM7, costs, GSM7_SINGLE, GSM7_PART)
    # Python strings hold code points; UCS-2 on the air is UTF-16, where one above U+FFFF is a
    # surrogate pair of two code units.
    costs = [2 if ord(c) > 0xFFFF else 1 for c in text]
    return _measure(Encoding.UCS2, costs, UCS2_SINGLE, UCS2_PART)


def _measure(encoding: Encoding, costs: list[int], single: int, part: int) -> SmsMeasure:
    units = sum(costs)
    if units <= single:
        return SmsMeasure(encoding, units, 1, single)
    # Parts are filled in order. An escape pair (GSM-7) or a surrogate pair (UCS-2) cannot be
    # cut between two parts, so a part whose last free unit would hold half of one ends one
    # unit short and the pair opens the next part: counting units / part would undercount.
    segments, used = 1, 0
    for cost in costs:
        if used + cost > part:
            segments, used = segments + 1, 0
        used += cost
    return SmsMeasure(encoding, units, segments, part)


def to_gsm7(text: str) -> str:
    """The rendering of ``text`` a sender should prefer: it measures as GSM-7.

    Characters in GSM-7 stay, accents included (é è ù ì ò à É Ç Ä Ö Ñ Ü ä ö ñ ü). Typographic
    quotes, apostrophes, dashes, ellipsis and special spaces become their plain equivalents
    (d’argent → d'argent, « oui » → "oui", … → ...). Anything else is transliterated with
    anyascii (ê → e, ç → c, œ → oe, € stays), and what anyascii cannot render is dropped.
    """
    text = _GUILLEMET_SPACE.sub(lambda m: m.group().strip(" \u00a0\u202f"), text)
    out: list[str] = []
    # NFC first: a decomposed é (e + U+0301 COMBINING ACUTE) is the GSM-7 é once composed.
    for char in unicodedata.normalize("NFC", text):
        if is_gsm7(char):
            out.append(char)
        elif char in _TYPOGRAPHY:
            out.append(_TYPOGRAPHY[char])
        else:
            out.append(_gsm7_only(str(anyascii(char))))
    return "".join(out)


def _gsm7_only(ascii_text: str) -> str:
    # anyascii returns ASCII, of which only the backtick and control characters are not GSM-7.
    return "".join(c if is_gsm7(c) else _TYPOGRAPHY.get(c, "") for c in ascii_text)
