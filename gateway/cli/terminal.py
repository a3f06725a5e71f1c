"""What the CLI prints: plain-text tables, and text made safe for a terminal."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

# What a reader's terminal is assumed to hold: every line the CLI prints for a listing of
# free text (the outbox) stays within it, wrapped.
TERMINAL_WIDTH = 100
# Control characters shown by their usual escape rather than a code.
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def text_table(rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns two spaces apart, the first row as the header; no trailing spaces."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def printable(text: str) -> str:
    """``text`` on one line, each control character shown as ``?``.

    Names and labels shown by the CLI came from someone's SMS or request: no escape sequence
    or line break of theirs may reach the operator's terminal.
    """
    return " ".join(_shown(text).split())


def printable_lines(text: str) -> str:
    """``text`` with its line breaks kept (``\r\n`` as ``\n``), every other control character
    shown as ``?``: for data printed line by line, such as an export read at a terminal.

    A lone carriage return is shown too: it would let a line overwrite what precedes it.
    """
    return "\n".join(_shown(line) for line in text.replace("\r\n", "\n").split("\n"))


def escaped(text: str) -> str:
    """``text`` on one line, every control or invisible character written as an escape.

    ``\\n`` for a line break, ``\\x1b`` for ESC, ``\\u202e`` for a right-to-left override, and
    a backslash doubled so an escape cannot be faked: what was sent can be read back exactly,
    and nothing in it acts on the terminal.
    """
    return "".join(_escape(c) for c in text)


def _escape(char: str) -> str:
    if char in _ESCAPES:
        return _ESCAPES[char]
    if char.isprintable():
        return char
    code = ord(char)
    return (
        f"\\x{code:02x}"
        if code < 0x100
        else f"\\u{code:04x}"
        if code < 0x10000
        else f"\\U{code:08x}"
    )


def wrapped(text: str, *, indent: str = "", width: int = TERMINAL_WIDTH) -> list[str]:
    """``text`` (one line, already terminal-safe) cut at spaces into lines of ``width`` at most,
    each starting with ``indent``; a word longer than a line is cut."""
    return textwrap.wrap(
        text,
        width,
        initial_indent=indent,
        subsequent_indent=indent,
        break_on_hyphens=False,
        drop_whitespace=True,
    ) or [indent.rstrip()]


def _shown(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in text)


def plural(count: int, noun: str) -> str:
    """``1 message``, ``2 messages``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
