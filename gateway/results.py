"""Results for staff: submissions page by page, and the headline report with small cells hidden.

Both read only pseudonymised data and return frozen values that render as JSON
(``as_dict``), as text tables (the CLI) or as charts (``gateway.charts``).

The headline report hides small cells by the rule in ``gateway.suppression``.
"""

from __future__ import annotations

import base64
import binascii
import itertools
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from flows.model import Flow, Option, localise
from gateway.export import export_status, iso_utc
from gateway.models import Answer, Submission, SubmissionStatus
from gateway.selection import EVERYTHING, SubmissionFilter
from gateway.suppression import DEFAULT_K, MIN_K, Suppressed, Suppression, percent, suppress

PER_PAGE_DEFAULT = 50
PER_PAGE_MAX = 100
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


# -- submissions, page by page ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SubmissionItem:
    """One submission as staff see it: pseudonym, never a number; answers as codes."""

    id: str
    respondent: str
    flow: str
    flow_version: int
    channel: str
    enumerator: str | None
    language: str
    status: str
    started_at: str
    completed_at: str | None
    answers: Mapping[str, str]

    def as_dict(self) -> dict[str, Any]:
        """The submission as a JSON-ready dict."""
        return {**asdict(self), "answers": dict(self.answers)}


@dataclass(frozen=True, slots=True)
class SubmissionPage:
    """One page of submissions, oldest first; ``next_cursor`` fetches the next (None at the end)."""

    items: tuple[SubmissionItem, ...]
    total: int
    per_page: int
    next_cursor: str | None

    def as_dict(self) -> dict[str, Any]:
        """The page as a JSON-ready dict."""
        return {
            "items": [item.as_dict() for item in self.items],
            "total": self.total,
            "per_page": self.per_page,
            "next_cursor": self.next_cursor,
        }


def list_submissions(
    session: Session,
    now: datetime,
    *,
    flow: str | None = None,
    selection: SubmissionFilter = EVERYTHING,
    cursor: str | None = None,
    per_page: int = PER_PAGE_DEFAULT,
) -> SubmissionPage:
    """One page of submissions of a flow and/or a campaign (``selection``), oldest first.

    Pages are keyed by a cursor (the last row's start time and id), not an offset, so
    submissions arriving while someone pages through neither repeat nor skip rows. A cursor
    that is not one this function made raises ValueError; ``per_page`` must be 1 to 100.
    """
    if not 1 <= per_page <= PER_PAGE_MAX:
        raise ValueError(f"per_page must be from 1 to {PER_PAGE_MAX}")
    where = _where(flow, selection)
    total = count_submissions(session, flow=flow, selection=selection)
    if cursor is not None:
        after_time, after_id = decode_cursor(cursor)
        where.append(
            or_(
                Submission.started_at > after_time,
                and_(Submission.started_at == after_time, Submission.id > after_id),
            )
        )
    stmt = (
        select(Submission)
        .where(*where)
        .order_by(Submission.started_at, Submission.id)
        .limit(per_page + 1)
    )
    submissions = list(session.scalars(stmt))
    more = len(submissions) > per_page
    submissions = submissions[:per_page]
    answers: dict[str, dict[str, str]] = {s.id: {} for s in submissions}
    if submissions:
        rows = session.execute(
            select(Answer.submission_id, Answer.key, Answer.value)
            .where(Answer.submission_id.in_(list(answers)))
            .order_by(Answer.submission_id, Answer.seq)
        )
        for submission_id, key, value in rows:
            answers[submission_id][key] = value
    items = tuple(
        SubmissionItem(
            id=s.id,
            respondent=s.respondent_id,
            flow=s.flow,
            flow_version=s.flow_version,
            channel=s.channel,
            enumerator=s.enumerator_code,
            language=s.language,
            status=export_status(s.status, s.expires_at, now),
            started_at=iso_utc(s.started_at),
            completed_at=iso_utc(s.completed_at) or None,
            answers=answers[s.id],
        )
        for s in submissions
    )
    last = submissions[-1] if more else None
    next_cursor = encode_cursor(last.started_at, last.id) if last is not None else None
    return SubmissionPage(items=items, total=total, per_page=per_page, next_cursor=next_cursor)


def count_submissions(
    session: Session, *, flow: str | None = None, selection: SubmissionFilter = EVERYTHING
) -> int:
    """How many submissions of a flow and/or selection there are, whatever their status."""
    where = _where(flow, selection)
    return session.scalar(select(func.count()).select_from(Submission).where(*where)) or 0


def _where(flow: str | None, selection: SubmissionFilter) -> list[ColumnElement[bool]]:
    where = selection.clauses()
    if flow is not None:
        where.append(Submission.flow == flow)
    return where


def encode_cursor(started_at: datetime, submission_id: str) -> str:
    """An opaque, URL-safe cursor for the row after (started_at, id)."""
    raw = f"{started_at.isoformat()}|{submission_id}".encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """Read a cursor made by :func:`encode_cursor`; ValueError for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("utf-8")
        moment, submission_id = raw.split("|", 1)
        started_at = datetime.fromisoformat(moment)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValueError("not a cursor from a previous page") from None
    if started_at.utcoffset() is None or not submission_id:
        raise ValueError("not a cursor from a previous page")
    return started_at, submission_id


# -- the headline report ----------------------------------------------------------------------


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
    campaign_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
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
            "campaign_id": self.campaign_id,
            "since": iso_utc(self.since) or None,
            "until": iso_utc(self.until) or None,
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
    campaign_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
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
    selection = SubmissionFilter(since=since, until=until, campaign_id=campaign_id)
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
        campaign_id=campaign_id,
        since=since,
        until=until,
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
        select(Submission.id, Answer.key, Answer.value)
        .select_from(Submission)
        .outerjoin(Answer, and_(Answer.submission_id == Submission.id, Answer.key.in_(REPORT_KEYS)))
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
