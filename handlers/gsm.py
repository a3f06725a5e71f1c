"""Text as a basic phone can show it.

Many telcos cannot display accents or curly quotes on USSD, and outside GSM-7 an SMS falls
back to UCS-2 (70 characters instead of 160). USSD texts are therefore transliterated to
plain ASCII, which every handset shows.
"""

from __future__ import annotations

from anyascii import anyascii


def ascii_screen(text: str) -> str:
    """``text`` transliterated to plain printable ASCII (é → e, ’ → ')."""
    converted = anyascii(text)
    return "".join(c for c in converted if c == "\n" or 32 <= ord(c) < 127)
