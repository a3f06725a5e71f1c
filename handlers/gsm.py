"""Text as a basic phone can show it, and SMS texts measured as the network will send them.

Many telcos cannot display accents or curly quotes on USSD, so USSD texts are transliterated to
plain ASCII (``ascii_screen``), which every handset shows. An SMS can keep the accents of the
GSM-7 alphabet (é è à ...): outside GSM-7 it falls back to UCS-2, 70 characters instead of 160,
so SMS texts are sent as ``to_gsm7`` renders them and sized with ``measure_sms``. Those live in
the pure ``flows.gsm7`` (the flow checks need them too) and are re-exported here.
"""

from __future__ import annotations

from anyascii import anyascii

from flows.gsm7 import Encoding, SmsMeasure, measure_sms, non_gsm7, to_gsm7

__all__ = ["Encoding", "SmsMeasure", "ascii_screen", "measure_sms", "non_gsm7", "to_gsm7"]


def ascii_screen(text: str) -> str:
    """``text`` transliterated to plain printable ASCII (é → e, ’ → ')."""
    converted = anyascii(text)
    return "".join(c for c in converted if c == "\n" or 32 <= ord(c) < 127)
