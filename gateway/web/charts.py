"""Horizontal bar charts as small inline SVG, drawn on the server: no JavaScript, no CDN.

Pure functions from values to an SVG string. Every chart is accessible without seeing it:
the ``<title>`` names it, the ``<desc>`` lists every label with its value, and each bar has
its label and value as text beside it. A suppressed cell (value None) is drawn as its text
("<5", "x") with no bar, so its size cannot be read off the picture either.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from typing import Literal

from gateway.results.report import ReportTable

WIDTH = 480
ROW_HEIGHT = 22
BAR_HEIGHT = 14
TOP = 24  # room for the visible title
VALUE_WIDTH = 52  # room right of the longest bar for its value
LABEL_CHARS = 30  # longer labels are cut (the full label is in <desc>)
CHAR_WIDTH = 6.6  # average width of a 12px sans-serif character, for the label column
BAR_COLOUR = "#2b5d8c"  # 6.5:1 against white
MUTED = "#595959"

# XML 1.0 allows no other control characters, not even escaped.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar: its label, its value (None when suppressed: no bar) and the text shown."""

    label: str
    value: float | None
    text: str


def bar_chart(title: str, bars: Sequence[Bar], *, maximum: float | None = None) -> str:
    """A horizontal bar chart as an SVG string; bars scale to ``maximum`` (default: largest)."""
    values = [bar.value for bar in bars if bar.value is not None]
    top = maximum if maximum is not None else max(values, default=0.0)
    labels = [_short(bar.label) for bar in bars]
    label_width = min(int(max((len(lb) for lb in labels), default=0) * CHAR_WIDTH) + 8, 220)
    bar_space = WIDTH - label_width - VALUE_WIDTH
    height = TOP + ROW_HEIGHT * max(len(bars), 1) + 4
    summary = "; ".join(f"{bar.label}: {bar.text}" for bar in bars) or "-"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" font-family="sans-serif" '
        f'font-size="12" fill="#1a1a1a">',
        f"<title>{_text(title)}</title>",
        f"<desc>{_text(summary)}</desc>",
        f'<text x="0" y="15" font-weight="bold">{_text(title)}</text>',
    ]
    if not bars:
        parts.append(f'<text x="0" y="{TOP + 15}" fill="{MUTED}">-</text>')
    for i, (bar, label) in enumerate(zip(bars, labels, strict=True)):
        y = TOP + i * ROW_HEIGHT
        baseline = y + 15
        parts.append(
            f'<text x="{label_width - 6}" y="{baseline}" text-anchor="end">{_text(label)}</text>'
        )
        if bar.value is None:
            x = label_width + 4
            parts.append(f'<text x="{x}" y="{baseline}" fill="{MUTED}">{_text(bar.text)}</text>')
            continue
        length = bar_space * bar.value / top if top > 0 else 0.0
        length = max(length, 0.0)
        parts.append(
            f'<rect x="{label_width}" y="{y + 4}" width="{_num(length)}" height="{BAR_HEIGHT}" '
            f'fill="{BAR_COLOUR}"/>'
        )
        parts.append(
            f'<text x="{_num(label_width + length + 4)}" y="{baseline}">{_text(bar.text)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def report_chart(
    table: ReportTable,
    *,
    measure: Literal["share", "households", "people"] = "share",
    share_text: Callable[[float], str] = lambda share: f"{share:g}%",
    count_text: Callable[[int], str] = str,
) -> str:
    """One table of the headline report as a bar chart of shares (%), households or people.

    ``share_text`` writes a share in percent (38.5) and ``count_text`` a count as the reader
    does (``38,5 %`` in French); by default as Python does.
    """
    bars = []
    for row in table.rows:
        value: float | None
        if measure == "share":
            value = row.share
            text = share_text(row.share) if row.share is not None else row.display
        else:
            count = row.households if measure == "households" else row.people
            value = None if count is None else float(count)
            text = count_text(count) if count is not None else row.display
        bars.append(Bar(row.label, value, text))
    return bar_chart(table.title, bars, maximum=100.0 if measure == "share" else None)


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1].rstrip() + "…"


def _text(value: str) -> str:
    return escape(_CONTROL.sub("", value), quote=True)


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")
