"""What each enumerator did day by day over a period, for supervisors: reports sent (by report
flow) and households surveyed. The dashboard and ``survey-gateway enumerators activity`` both
read :func:`enumerator_activity`.

A day is a UTC day. A withdrawn report was a mistake its author took back: it is not counted.
A household counts on the day its survey was completed; a survey the household declined or
left unfinished is not a household surveyed. Enumerators are named by code, which is kept for
good, so a revoked enumerator's past work still shows; no number is read.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.enumerators.models import Enumerator
from gateway.reports.models import Report
from gateway.surveys.models import Submission, SubmissionStatus

DEFAULT_PERIOD_DAYS = 7
# A supervisor's look is weeks, not years: a longer period is cut to this many days.
MAX_PERIOD_DAYS = 92


@dataclass(slots=True)
class ActivityDay:
    """One enumerator's work on one UTC day."""

    day: date
    reports: dict[str, int] = field(default_factory=dict)
    households: int = 0

    @property
    def report_total(self) -> int:
        """Reports of every flow sent that day."""
        return sum(self.reports.values())


@dataclass(frozen=True, slots=True)
class EnumeratorActivity:
    """One enumerator's days with any work in the period, oldest first, and the totals."""

    code: str
    full_name: str
    region: str
    days: tuple[ActivityDay, ...]

    @property
    def reports(self) -> int:
        """Reports sent over the period (withdrawn ones not counted)."""
        return sum(day.report_total for day in self.days)

    @property
    def households(self) -> int:
        """Households surveyed over the period."""
        return sum(day.households for day in self.days)

    def flow_total(self, flow: str) -> int:
        """Reports of one flow sent over the period."""
        return sum(day.reports.get(flow, 0) for day in self.days)


def period(since: date | None, until: date | None, today: date) -> tuple[date, date]:
    """The days asked for, both included: by default the last week up to ``today``; a period
    given backwards is put the right way round, and one too long is cut from its start."""
    last = until or today
    first = since or _days_before(last, DEFAULT_PERIOD_DAYS - 1)
    first, last = min(first, last), max(first, last)
    # The day after the last must exist: the period ends at its midnight.
    last = min(last, date.max - timedelta(days=1))
    return min(last, max(first, _days_before(last, MAX_PERIOD_DAYS - 1))), last


def _days_before(day: date, days: int) -> date:
    """``days`` days before ``day``, or the first day there is (a typed year 0001)."""
    return day - timedelta(days=days) if day.toordinal() > days else date.min


def enumerator_activity(session: Session, first: date, last: date) -> list[EnumeratorActivity]:
    """Every enumerator with a report or a household surveyed from ``first`` to ``last``
    (UTC days, both included), by code."""
    start = datetime.combine(first, time(0), tzinfo=UTC)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=UTC)
    days: dict[str, dict[date, ActivityDay]] = defaultdict(dict)

    def day_of(code: str, moment: datetime) -> ActivityDay:
        day = moment.astimezone(UTC).date()
        return days[code].setdefault(day, ActivityDay(day))

    # Rows, not SQL date functions: SQLite and PostgreSQL name days differently, and a
    # period of weeks holds a few thousand reports at most.
    report_rows = session.execute(
        select(Report.enumerator_code, Report.flow, Report.received_at).where(
            Report.received_at >= start, Report.received_at < end, Report.withdrawn_at.is_(None)
        )
    )
    for code, flow, received_at in report_rows:
        counts = day_of(code, received_at).reports
        counts[flow] = counts.get(flow, 0) + 1
    survey_rows = session.execute(
        select(Submission.enumerator_code, Submission.completed_at).where(
            Submission.enumerator_code.is_not(None),
            Submission.status == SubmissionStatus.COMPLETED,
            Submission.completed_at >= start,
            Submission.completed_at < end,
        )
    )
    for surveyor, completed_at in survey_rows:
        if surveyor is not None and completed_at is not None:  # both filtered on above
            day_of(surveyor, completed_at).households += 1
    people = {
        code: (name, region)
        for code, name, region in session.execute(
            select(Enumerator.code, Enumerator.full_name, Enumerator.region).where(
                Enumerator.code.in_(list(days))
            )
        )
    }
    return [
        EnumeratorActivity(
            code=code,
            # Erased since (EFFACER): the code alone still names the work.
            full_name=people.get(code, ("", ""))[0],
            region=people.get(code, ("", ""))[1],
            days=tuple(sorted(days[code].values(), key=lambda d: d.day)),
        )
        for code in sorted(days)
    ]


def report_flows(activity: list[EnumeratorActivity]) -> list[str]:
    """The report flows any enumerator sent in the period, in name order: the columns."""
    return sorted({flow for each in activity for day in each.days for flow in day.reports})
