"""Small-cell suppression: which counts of households a published table may show.

The rule, as the headline report (``gateway.results.report``) applies it to each of its tables. A
table counts households by one answer; its total is the households that gave that answer.
With ``k`` (5 unless raised; never lower, so no caller can switch the protection off):

1. **Small cells.** A row counting fewer than ``k`` households, zero included, is suppressed:
   its households, share and people are None and it shows as ``<5``.
2. **Small totals.** A table whose total is under ``k`` shows no total either (every row is
   then small too); the report's own totals follow the same rule.
3. **Complementary cells.** Where rows split the total (intention, regions), a single hidden
   row could be worked out as the total minus the rows shown. So if exactly one row is
   suppressed, the smallest row still shown (the first in flow order on a tie) is suppressed
   too and shows as ``x``. Likewise if the hidden rows are all small and together hold
   exactly ``k - 1`` households each, which pins every one of them. The rule repeats until
   neither holds. People (sum of household sizes) are hidden on exactly the hidden rows.
4. **Overlapping rows.** The needs table counts a household under each need it cited (first
   or second, once per need), so its rows overlap and do not add up to a total: there is
   nothing to subtract, and only rules 1 and 2 apply.
5. **No way out.** If a table's rows are all hidden and still each must hold ``k - 1``
   households (say 16 households, four answers, each "<5": each is 4), its total is what
   gives them away, and every table has the same households. The report then shows no total
   and no share anywhere (a share gives its total away): only the counts of rows of k or more.

What no table rule can stop is differencing *across* reports (this month minus this month but
one day); those who publish reports should fix their periods in advance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

DEFAULT_K = 5
MIN_K = 5

Suppression = Literal["small", "complementary"]
"""Why a cell is hidden: under k itself, or so that a small cell cannot be worked out."""


@dataclass(frozen=True, slots=True)
class Suppressed:
    """The outcome of the rule for one table: why each cell is hidden, and whether the total is.

    ``marks[i]`` is None for a cell shown. ``pinned`` is True when even with every cell
    hidden the total would still give them away (rule 5); the caller then hides totals and
    shares of the whole report, since every table has the same households.
    """

    k: int
    marks: tuple[Suppression | None, ...]
    total_shown: bool
    pinned: bool = False


def suppress(
    counts: Sequence[int], k: int, *, partition: bool, total: int | None = None
) -> Suppressed:
    """Apply rules 1 to 3 (and detect rule 5) to one table's cells.

    ``partition`` says the cells split ``total`` (default: their sum), so that hidden cells
    could be recovered by subtraction while the total is shown.
    """
    marks: list[Suppression | None] = ["small" if c < k else None for c in counts]
    total = sum(counts) if total is None else total
    if total < k:
        return Suppressed(k, tuple(marks), total_shown=False)
    if not partition:
        return Suppressed(k, tuple(marks), total_shown=True)
    while _recoverable(counts, marks, k):
        shown = [i for i, mark in enumerate(marks) if mark is None]
        if not shown:
            return Suppressed(k, tuple(marks), total_shown=False, pinned=True)
        smallest = min(shown, key=lambda i: (counts[i], i))
        marks[smallest] = "complementary"
    return Suppressed(k, tuple(marks), total_shown=True)


def _recoverable(counts: Sequence[int], marks: Sequence[Suppression | None], k: int) -> bool:
    hidden = [i for i, mark in enumerate(marks) if mark is not None]
    if len(hidden) == 1:
        return True
    if hidden and all(marks[i] == "small" for i in hidden):
        # Each small cell is at most k - 1: a sum of exactly that many pins every one.
        hidden_sum = sum(counts[i] for i in hidden)
        return hidden_sum > 0 and hidden_sum == len(hidden) * (k - 1)
    return False


def percent(part: int, whole: int) -> float:
    """``part`` as a percentage of ``whole``, rounded half up to one decimal (0.0 for 0/0)."""
    if whole == 0:
        return 0.0
    share = Decimal(100 * part) / Decimal(whole)
    return float(share.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))
