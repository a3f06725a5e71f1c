"""Long lists on staff pages: a period typed as the reader writes dates, and pages of rows.

The audit log and the outbox are filtered by a period of whole days and read a page at a time
(``?page=3``): the page must stay small on a slow link, whatever the table holds. A day is
read as ``2026-03-31`` (what a date field sends) or ``31/03/2026`` (what a French reader types
in a browser without one). Days are UTC days, the database's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from flask import request

from gateway.results.selection import parse_moment
from gateway.web.dashboard.base import t

PAGE_ROWS = 50


@dataclass(frozen=True, slots=True)
class Period:
    """Whole UTC days, ``since`` included and ``before`` excluded; either end may be open."""

    since: datetime | None = None
    before: datetime | None = None


@dataclass(frozen=True, slots=True)
class Pager:
    """One page of a list: which, how many in all, and the rows before it."""

    page: int
    total: int
    rows: int = PAGE_ROWS

    @property
    def pages(self) -> int:
        """How many pages the list has (one, even when empty)."""
        return max(1, -(-self.total // self.rows))

    @property
    def offset(self) -> int:
        """How many rows come before this page."""
        return (self.page - 1) * self.rows


def parse_day(text: str) -> date | None:
    """The day typed (ISO or day/month/year, as the results filter reads it), None when empty;
    ValueError when unreadable."""
    if not text.strip():
        return None
    return parse_moment(text, day_first=True).date()


def read_period(args: dict[str, str], problems: dict[str, str]) -> Period:
    """The period of the ``since`` and ``until`` fields; an unreadable one is noted in
    ``problems`` by field, and left open."""
    days: dict[str, date | None] = {}
    for field in ("since", "until"):
        try:
            days[field] = parse_day(args.get(field, ""))
        except ValueError:
            problems[field] = t("lists.bad_day", text=args.get(field, "")[:20])
            days[field] = None
    since, until = days["since"], days["until"]
    if since is not None and until is not None and until < since:
        problems["until"] = t("lists.until_before_since")
        until = None
    return Period(
        since=_start_of(since) if since else None,
        before=_start_of(until + timedelta(days=1)) if until else None,
    )


def filter_args(*names: str) -> dict[str, str]:
    """The query string's values of ``names``, trimmed and cut short."""
    return {name: request.args.get(name, "").strip()[:80] for name in names}


def link_args(args: dict[str, str]) -> dict[str, str]:
    """The filters set, for the links to other pages of the same list."""
    return {name: value for name, value in args.items() if value}


def page_asked() -> int:
    """The page the query string asks for; the first for anything that is not a page number."""
    text = request.args.get("page", "")
    return int(text) if text.isdigit() and 0 < len(text) < 7 and int(text) > 0 else 1


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)
