"""Which submissions a listing, report or export covers: a period, a campaign, a status.

Shared by ``gateway.results.export``, ``gateway.results.submissions``, ``gateway.results.report``,
the CLI, the API and the dashboard, so that "March" or "campaign 12" means the same rows
everywhere. Periods are on ``started_at`` and half-open: ``since`` is included, ``until`` is
not. People type days: a day given for ``until`` means the end of that day (UTC), so
``--since 2025-03-01 --until 2025-03-31`` is the whole of March. The dashboard also reads days
as its French readers write them (``31/03/2025``); the API and the CLI keep to ISO 8601.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from sqlalchemy import ColumnElement, select

from gateway.campaigns.models import CampaignContact
from gateway.surveys.models import Submission, SubmissionStatus

Status = Literal["started", "completed", "declined", "expired"]
# As exports and listings show a status: "expired" is a started run past its expiry.
STATUSES: tuple[Status, ...] = ("started", "completed", "declined", "expired")


@dataclass(frozen=True, slots=True)
class SubmissionFilter:
    """Submissions started in ``[since, until)`` and, if set, reached by campaign ``campaign_id``.

    A campaign's submissions are the runs its contacts started (``campaign_contacts.run_id``).
    ``status`` keeps one status as listings show it; telling "started" from "expired" needs
    the moment ``as_of`` at which the listing is made.
    """

    since: datetime | None = None
    until: datetime | None = None
    campaign_id: str | None = None
    status: Status | None = None
    as_of: datetime | None = None

    def __post_init__(self) -> None:
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and value.utcoffset() is None:
                raise ValueError(f"'{name}' needs a timezone-aware datetime")
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise EmptyPeriod()
        if self.status is not None and self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r} (known: {', '.join(STATUSES)})")
        if self.status in ("started", "expired") and self.as_of is None:
            raise ValueError(f"the status '{self.status}' needs 'as_of'")

    def clauses(self) -> list[ColumnElement[bool]]:
        """SQL conditions on ``Submission`` for this filter (none when nothing is set)."""
        clauses: list[ColumnElement[bool]] = []
        if self.since is not None:
            clauses.append(Submission.started_at >= self.since)
        if self.until is not None:
            clauses.append(Submission.started_at < self.until)
        if self.campaign_id is not None:
            runs = select(CampaignContact.run_id).where(
                CampaignContact.campaign_id == self.campaign_id,
                CampaignContact.run_id.is_not(None),
            )
            clauses.append(Submission.id.in_(runs))
        if self.status in ("started", "expired") and self.as_of is not None:
            clauses.append(Submission.status == SubmissionStatus.STARTED)
            expired = Submission.expires_at < self.as_of
            clauses.append(expired if self.status == "expired" else ~expired)
        elif self.status is not None:
            clauses.append(Submission.status == SubmissionStatus(self.status))
        return clauses


EVERYTHING = SubmissionFilter()


# 31/03/2026 as French readers write a day (also 31-03-2026 and 31.03.2026).
_DAY_FIRST = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})")


class UnreadableDate(ValueError):
    """A date a person typed that is not one; ``text`` is what they typed (cut to 40)."""

    def __init__(self, text: str) -> None:
        self.text = text[:40]
        super().__init__(
            f"'{self.text}' is not a date: write it like 2025-03-31 or 2025-03-31T18:00:00Z"
        )


class EmptyPeriod(ValueError):
    """A period whose start is not before its end."""

    def __init__(self) -> None:
        super().__init__("'since' must be before 'until'")


def parse_moment(text: str, *, end: bool = False, day_first: bool = False) -> datetime:
    """Read a day (``2025-03-31``) or an ISO 8601 time; a time without a zone is UTC.

    With ``end`` a day means the end of that day (the next midnight), as ``until`` wants it.
    With ``day_first`` a day may also be written as French readers do (``31/03/2025``); the
    API keeps to ISO 8601, where ``03/04/2025`` cannot be misread. Raise ``UnreadableDate``.
    """
    text = text.strip()
    try:
        written = _DAY_FIRST.fullmatch(text) if day_first else None
        if written is not None:
            day = date(int(written[3]), int(written[2]), int(written[1]))
        elif len(text) == 10:
            day = date.fromisoformat(text)
        else:
            moment = datetime.fromisoformat(text)
            return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except ValueError:
        raise UnreadableDate(text) from None
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start + timedelta(days=1) if end else start


def parse_filter(
    since: str | None = None,
    until: str | None = None,
    campaign_id: str | None = None,
    *,
    status: str | None = None,
    as_of: datetime | None = None,
    day_first: bool = False,
) -> SubmissionFilter:
    """A filter from what a person typed (CLI option, query string); ValueError when unreadable.

    ``UnreadableDate`` names the date that could not be read; ``EmptyPeriod`` a period that
    ends before it starts. ``status`` is one of ``STATUSES``, seen at ``as_of``.
    """
    start = parse_moment(since, day_first=day_first) if since else None
    stop = parse_moment(until, end=True, day_first=day_first) if until else None
    if start is not None and stop is not None and start >= stop:
        raise EmptyPeriod()
    chosen = next((known for known in STATUSES if known == status), None)
    if status and chosen is None:
        raise ValueError(f"unknown status {status[:20]!r} (known: {', '.join(STATUSES)})")
    return SubmissionFilter(
        since=start,
        until=stop,
        campaign_id=campaign_id or None,
        status=chosen,
        as_of=as_of if chosen in ("started", "expired") else None,
    )
