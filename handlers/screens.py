"""USSD screens: ``CON``/``END`` texts of at most 182 characters, paged when longer.

A question screen is a list of lines (error, question, numbered options, language switch).
Lines are packed into pages; every page but the last ends with ``98. Suite``, and a page of a
question that has one before it shows ``0. Retour``. Option numbers stay the same on every
page, so an answer typed from any page means the same option.
"""

from __future__ import annotations

from dataclasses import dataclass

from handlers.gsm import ascii_screen

MAX_SCREEN = 182
MORE = "98"
BACK = "0"


@dataclass(frozen=True, slots=True)
class Page:
    """One rendered screen and whether more pages follow it."""

    text: str
    has_more: bool


def con(body: str) -> str:
    """A screen that waits for the respondent's input."""
    return "CON " + ascii_screen(body)[: MAX_SCREEN - 4]


def end(body: str) -> str:
    """A screen that closes the session."""
    text = ascii_screen(body)
    if len(text) > MAX_SCREEN - 4:
        text = _split_long(text, MAX_SCREEN - 4)[0]
    return "END " + text


def paged(lines: list[str], page: int, *, more_label: str, back_label: str | None) -> Page:
    """Page ``page`` (from 0) of ``lines``, with ``98`` and ``0`` entries as needed."""
    pages = paginate(lines, more_label=more_label, back_label=back_label)
    index = min(max(page, 0), len(pages) - 1)
    return Page("CON " + pages[index], index < len(pages) - 1)


def paginate(lines: list[str], *, more_label: str, back_label: str | None) -> list[str]:
    """All pages of ``lines`` (without the ``CON`` prefix), each fitting on one screen."""
    budget = MAX_SCREEN - len("CON ")
    more = f"{MORE}. {ascii_screen(more_label)}"
    back = f"{BACK}. {ascii_screen(back_label)}" if back_label else None
    footer_last = [back] if back else []
    footer_more = [more, *footer_last]

    pieces: list[str] = []
    for line in (ascii_screen(line) for line in lines):
        pieces.extend(_split_long(line, budget - _size(footer_more) - 1))

    pages: list[str] = []
    current: list[str] = []
    for index, piece in enumerate(pieces):
        remaining = pieces[index + 1 :]
        candidate = [*current, piece]
        # The last piece only needs room for the closing footer; others must leave room for 98.
        fits_as_last = not remaining and _size(candidate + footer_last) <= budget
        if fits_as_last or _size(candidate + footer_more) <= budget:
            current = candidate
            continue
        pages.append("\n".join([*current, *footer_more]))
        current = [piece]
    pages.append("\n".join([*current, *footer_last]))
    return pages


def _size(lines: list[str]) -> int:
    return len("\n".join(lines))


def _split_long(line: str, width: int) -> list[str]:
    """Cut a line longer than ``width`` at spaces (or hard, for a word that long)."""
    if len(line) <= width:
        return [line]
    parts: list[str] = []
    rest = line
    while len(rest) > width:
        cut = rest.rfind(" ", 0, width + 1)
        if cut <= 0:
            cut = width
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    return parts
