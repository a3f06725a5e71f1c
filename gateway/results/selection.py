"""Which submissions a listing, report or export covers: a period and, optionally, a campaign.

Shared by ``gateway.results.export``, ``gateway.results.submissions``, ``gateway.results.report``,
the CLI and
the API, so that "March" or "campaign 12" means the same rows everywhere. Periods are on
``started_at`` and half-open: ``since`` is included, ``until`` is not. People type days: a day
given for ``until`` means the end of that day (UTC), so ``--since 2025-03-01 --until
2025-03-31`` is the whole of March.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import ColumnElement, select

from gateway.campaigns.models import CampaignContact
from gateway.surveys.models import Submission


@dataclass(frozen=True, slots=True)
class SubmissionFilter:
    """Submissions started in ``[since, until)`` and, if set, reached by campaign ``campaign_id``.

    A campaign's submissions are the runs its contacts started (``campaign_contacts.run_id``).
    """

    since: datetime | None = None
    until: datetime | None = None
    campaign_id: str | None = None

    def __post_init__(self) -> None:
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and value.utcoffset() is None:
                raise ValueError(f"'{name}' needs a timezone-aware datetime")
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise ValueError("'since' must be before 'until'")

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
        return clauses


EVERYTHING = SubmissionFilter()


def parse_moment(text: str, *, end: bool = False) -> datetime:
    """Read a day (``2025-03-31``) or an ISO 8601 time; a time without a zone is UTC.

    With ``end`` a day means the end of that day (the next midnight), as ``until`` wants it.
    Raise ValueError with a message fit for a person.
    """
    text = text.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return start + timedelta(days=1) if end else start
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"'{text[:40]}' is not a date: write it like 2025-03-31 or 2025-03-31T18:00:00Z"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_filter(
    since: str | None = None, until: str | None = None, campaign_id: str | None = None
) -> SubmissionFilter:
    """A filter from what a person typed (CLI option, query string); ValueError when unreadable."""
    return SubmissionFilter(
        since=parse_moment(since) if since else None,
        until=parse_moment(until, end=True) if until else None,
        campaign_id=campaign_id or None,
    )
