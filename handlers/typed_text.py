"""Text typed on a phone, as AT hands it over, cleaned of what no keypad produces.

Control characters are dropped, not refused: the person typed a name or an answer and is
thanked for it, so refusing the message would lose what they meant to send (a badly decoded
GSM ``@`` arrives as NUL), while dropping keeps every character they could have meant.
PostgreSQL refuses NUL in text, and an escape sequence has no place in an answer that staff
later read in a terminal. Newline and tab stay: they are ordinary in a long SMS.
"""

from __future__ import annotations

_CONTROLS = {code: None for code in (*range(0x20), 0x7F) if chr(code) not in "\n\t"}


def without_controls(text: str) -> str:
    """``text`` without NUL and the other C0 control characters (and DEL), but newline and tab."""
    return text.translate(_CONTROLS)
