"""The headline report for staff: intentions, needs and regions, with small cells hidden.

Counts the completed submissions of a flow and returns frozen values that render as JSON
(``as_dict``), as text tables (``gateway.results.report_text``) or as charts
(``gateway.web.charts``).
Small cells are hidden by the rule in ``gateway.results.suppression``.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from flows.model import Flow, Option, localise
from gateway.results.export import iso_utc
from gateway.results.selection import EVERYTHING, SubmissionFilter
from gateway.results.suppression import DEFAULT_K, MIN_K, Suppressed, Suppression, percent, suppress
from gateway.surveys.models import StoredAnswer, Submission, SubmissionStatus

REPORT_BATCH = 1000

# The questions the headline report reads; a flow without them has no headline report.
REPORT_KEYS = ("intention", "need_1", "need_2", "household_size", "current_region", "origin_region")
NO_NEED = "none"

_TITLES: dict[str, dict[str, str]] = {
    "intention": {"fr": "Intentions des ménages", "en": "Household intentions"},
    "needs": {"fr": "Besoins cités (1er ou 2e)", "en": "Needs cited (first or second)"},
    "current_region": {"fr": "Région actuelle", "en": "Current region"},
    "origin_region": {"fr": "Région d'origine", "en": "Region of origin"},
}


@dataclass(frozen=True, slots=True)
class ReportRow:
    """One row of a report table; every number is None when the row is suppressed."""

    code: str
    label: str
    households: int | None
    share: float | None  # percent of the table's households, to one decimal
    people: int | None = None  # region tables only: the households' members
    suppressed: Suppression | None = None
    display: str = ""  # the households as shown: "27", "<5" or "x"

    def as_dict(self) -> dict[str, Any]:
        """The row as a JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class ReportTable:
    """Households (and, by region, people) by one answer, with small cells suppressed."""

    key: str
    title: str
    households: int | None  # the total: households that answered; None when under k
    people: int | None
    rows: tuple[ReportRow, ...]
    # True for the needs table: a household counts in each row it cited, so shares overlap.
    overlapping: bool = False
    with_people: bool = False

    def as_dict(self) -> dict[str, Any]:
        """The table as a JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class HeadlineReport:
    """Completed submissions of a flow: intentions, needs, and where households are and were."""

    flow: str
    flow_name: str
    language: str
    k: int
    households: int | None
    people: int | None
    intention: ReportTable
    needs: ReportTable
    current_region: ReportTable
    origin_region: ReportTable
    selection: SubmissionFilter = EVERYTHING
    tables: tuple[ReportTable, ...] = field(init=False)

    def __post_init__(self) -> None:
        tables = (self.intention, self.needs, self.current_region, self.origin_region)
        object.__setattr__(self, "tables", tables)

    def as_dict(self) -> dict[str, Any]:
        """The report as a JSON-ready dict."""
        return {
            "flow": self.flow,
            "flow_name": self.flow_name,
            "language": self.language,
            "k": self.k,
            "campaign_id": self.selection.campaign_id,
            "since": iso_utc(self.selection.since) or None,
            "until": iso_utc(self.selection.until) or None,
            "households": self.households,
            "people": self.people,
            "tables": [table.as_dict() for table in self.tables],
        }


def has_headline_report(flow: Flow) -> bool:
    """Whether the flow asks every question the headline report reads."""
    return set(REPORT_KEYS) <= set(flow.question_keys)


def headline_report(
    session: Session,
    flow: Flow,
    *,
    selection: SubmissionFilter = EVERYTHING,
    k: int = DEFAULT_K,
    language: str | None = None,
) -> HeadlineReport:
    """The headline report over the flow's completed submissions, small cells suppressed.

    Labels are the flow's, in ``language`` (the flow's default when it has no such language).
    Raise ValueError when the flow lacks a report question or ``k`` is under ``MIN_K``.
    """
    if k < MIN_K:
        raise ValueError(f"k must be at least {MIN_K}: smaller cells identify households")
    missing = [key for key in REPORT_KEYS if key not in flow.question_keys]
    if missing:
        raise ValueError(f"flow '{flow.id}' has no headline report (no {', '.join(missing)})")
    tally = _tally(session, flow.id, selection)
    lang = flow.language_or_default(language)

    def label(option: Option) -> str:
        return localise(option.label, lang, flow.default_language)

    def title(key: str) -> str:
        return _TITLES[key].get(lang) or _TITLES[key]["en"]

    def options(key: str) -> list[tuple[str, str]]:
        return [(o.code, label(o)) for o in flow.question(key).options]

    need_options = options("need_1")
    need_options += [
        item for item in options("need_2") if item[0] != NO_NEED and item not in need_options
    ]
    partitions = {
        "intention": (options("intention"), tally.intention, None),
        "current_region": (options("current_region"), tally.current_region, tally.current_people),
        "origin_region": (options("origin_region"), tally.origin_region, tally.origin_people),
    }
    plans = {
        key: suppress(_counts(opts, counts), k, partition=True)
        for key, (opts, counts, _) in partitions.items()
    }
    # Rule 5: one table that cannot be protected takes every total and share with it.
    show_totals = tally.households >= k and not any(plan.pinned for plan in plans.values())
    tables = {
        key: _table(key, title(key), opts, counts, plans[key], show_totals, people=people)
        for key, (opts, counts, people) in partitions.items()
    }
    need_counts = _counts(need_options, tally.needs)
    needs_plan = suppress(need_counts, k, partition=False, total=tally.answered_needs)
    tables["needs"] = _table(
        "needs",
        title("needs"),
        need_options,
        tally.needs,
        needs_plan,
        show_totals,
        overlapping_total=tally.answered_needs,
    )
    return HeadlineReport(
        flow=flow.id,
        flow_name=localise(flow.name, lang, flow.default_language),
        language=lang,
        k=k,
        households=tally.households if show_totals else None,
        people=tally.people if show_totals else None,
        intention=tables["intention"],
        needs=tables["needs"],
        current_region=tables["current_region"],
        origin_region=tables["origin_region"],
        selection=selection,
    )


@dataclass(slots=True)
class _Tally:
    households: int = 0
    people: int = 0
    answered_needs: int = 0
    intention: Counter[str] = field(default_factory=Counter)
    needs: Counter[str] = field(default_factory=Counter)
    current_region: Counter[str] = field(default_factory=Counter)
    origin_region: Counter[str] = field(default_factory=Counter)
    current_people: Counter[str] = field(default_factory=Counter)
    origin_people: Counter[str] = field(default_factory=Counter)


def _tally(session: Session, flow_id: str, selection: SubmissionFilter) -> _Tally:
    # Streamed and counted as it goes: memory stays flat however many households answered.
    stmt = (
        select(Submission.id, StoredAnswer.key, StoredAnswer.value)
        .select_from(Submission)
        .outerjoin(
            StoredAnswer,
            and_(StoredAnswer.submission_id == Submission.id, StoredAnswer.key.in_(REPORT_KEYS)),
        )
        .where(
            Submission.flow == flow_id,
            Submission.status == SubmissionStatus.COMPLETED,
            *selection.clauses(),
        )
        .order_by(Submission.id)
        .execution_options(yield_per=REPORT_BATCH)
    )
    tally = _Tally()
    for _, rows in itertools.groupby(session.execute(stmt), key=lambda row: row[0]):
        answers = {key: value for _, key, value in rows if key is not None}
        size = _people(answers.get("household_size"))
        tally.households += 1
        tally.people += size
        if "intention" in answers:
            tally.intention[answers["intention"]] += 1
        cited = {answers.get("need_1"), answers.get("need_2")} - {None, NO_NEED}
        if "need_1" in answers or "need_2" in answers:
            tally.answered_needs += 1
        tally.needs.update(code for code in cited if code is not None)
        for key, households, people in (
            ("current_region", tally.current_region, tally.current_people),
            ("origin_region", tally.origin_region, tally.origin_people),
        ):
            if key in answers:
                households[answers[key]] += 1
                people[answers[key]] += size
    return tally


def _people(value: str | None) -> int:
    try:
        return max(int(value), 0) if value is not None else 0
    except ValueError:
        return 0


def _counts(options: Sequence[tuple[str, str]], counts: Counter[str]) -> list[int]:
    return [counts.get(code, 0) for code, _ in options]


def _table(
    key: str,
    title: str,
    options: Sequence[tuple[str, str]],
    counts: Counter[str],
    plan: Suppressed,
    show_totals: bool,
    *,
    overlapping_total: int | None = None,
    people: Counter[str] | None = None,
) -> ReportTable:
    """A row for every option, in flow order; zero rows too, so charts keep their categories.

    Without ``overlapping_total`` the rows split the households that answered (their sum is
    the total); with it, a household may count in several rows and that is the total.
    """
    total = overlapping_total if overlapping_total is not None else sum(counts.values())
    total_shown = show_totals and plan.total_shown
    rows = []
    for (code, label), mark in zip(options, plan.marks, strict=True):
        households = counts.get(code, 0)
        hidden = mark is not None
        rows.append(
            ReportRow(
                code=code,
                label=label,
                households=None if hidden else households,
                # A share gives its total away: none where the total is hidden.
                share=percent(households, total) if not hidden and total_shown else None,
                people=None if hidden or people is None else people.get(code, 0),
                suppressed=mark,
                display=f"<{plan.k}" if mark == "small" else "x" if hidden else str(households),
            )
        )
    return ReportTable(
        key=key,
        title=title,
        households=total if total_shown else None,
        people=sum(people.values()) if people is not None and total_shown else None,
        rows=tuple(rows),
        overlapping=overlapping_total is not None,
        with_people=people is not None,
    )
