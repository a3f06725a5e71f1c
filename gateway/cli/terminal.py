"""What the CLI prints: plain-text tables, and text made safe for a terminal."""

from __future__ import annotations

from collections.abc import Sequence


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


def _shown(text: str) -> str:
    return "".join(c if c.isprintable() else "?" for c in text)


def plural(count: int, noun: str) -> str:
    """``1 message``, ``2 messages``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
