"""The rows of the ``make bench`` table: a figure, its goal, and whether it was met."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    """One line of the final table."""

    name: str
    measured: str
    goal: str
    ok: bool


def failed(name: str, goal: str, why: str) -> Row:
    """A row whose measurement could not be made: it misses its goal."""
    return Row(name, f"not measured: {why}", goal, False)


def table(rows: list[Row]) -> str:
    """The rows as a plain-text table, columns aligned."""
    lines = [("", "measured", "goal", "")]
    lines += [(r.name, r.measured, r.goal, "OK" if r.ok else "MISSED") for r in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(4)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )
