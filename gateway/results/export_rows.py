"""The rows every export writes, read from the database in one streamed query.

Nothing here ever reads a phone number: respondents appear by pseudonym. ``iso_utc`` and
``export_status`` serve the listings too (``gateway.results.submissions``, the CLI).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from gateway.campaigns.models import CampaignContact
from gateway.results.selection import SubmissionFilter
from gateway.surveys.models import StoredAnswer, Submission, SubmissionStatus

EXPIRED = "expired"
# Rows fetched per round trip: the export streams, however many submissions there are.
EXPORT_BATCH = 500


def iso_utc(value: datetime | None) -> str:
    """Format a datetime as ISO 8601 UTC to the second, with ``Z`` (empty for None)."""
    if value is None:
        return ""
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def export_status(status: SubmissionStatus, expires_at: datetime, now: datetime) -> str:
    """A submission's status as exports and listings show it: ``expired`` for an abandoned run."""
    if status == SubmissionStatus.STARTED and expires_at < now:
        return EXPIRED
    return str(status)


@dataclass(frozen=True, slots=True)
class ExportRow:
    """One submission: the fixed columns before the times, the times, the answers as codes."""

    meta: tuple[str, ...]  # submission_id ... wave, as text
    started_at: datetime
    completed_at: datetime | None
    answers: dict[str, str]


def _first_invitation(column: Any) -> Any:
    """``column`` of the campaign invitation that led to the submission's run, if one did.

    The first, should two: a household still answering one wave when the next opens is asked
    its current question, and both invitations lead to the one run.
    """
    return (
        select(column)
        .where(CampaignContact.run_id == Submission.id)
        .order_by(CampaignContact.id)
        .limit(1)
        .scalar_subquery()
    )


def export_rows(
    session: Session,
    flow_id: str,
    keys: Sequence[str],
    now: datetime,
    selection: SubmissionFilter,
) -> Iterator[ExportRow]:
    """The flow's submissions oldest first, with their answers to ``keys``."""
    # One query, submissions joined to just the wanted answers, so rows stream in order
    # instead of being loaded whole or fetched submission by submission.
    stmt = (
        select(
            Submission.id,
            Submission.respondent_id,
            Submission.flow,
            Submission.flow_version,
            Submission.channel,
            Submission.enumerator_code,
            Submission.language,
            Submission.status,
            Submission.started_at,
            Submission.completed_at,
            Submission.expires_at,
            _first_invitation(CampaignContact.campaign_id).label("campaign_id"),
            _first_invitation(CampaignContact.wave).label("wave"),
            StoredAnswer.key.label("answer_key"),
            StoredAnswer.value.label("answer_value"),
        )
        .select_from(Submission)
        .outerjoin(
            StoredAnswer,
            and_(StoredAnswer.submission_id == Submission.id, StoredAnswer.key.in_(keys)),
        )
        .where(Submission.flow == flow_id, *selection.clauses())
        .order_by(Submission.started_at, Submission.id)
        .execution_options(yield_per=EXPORT_BATCH)
    )
    result = session.execute(stmt)
    for submission_id, rows in itertools.groupby(result, key=lambda row: row[0]):
        group = list(rows)
        first = group[0]
        yield ExportRow(
            meta=(
                submission_id,
                first.respondent_id,
                first.flow,
                str(first.flow_version),
                first.channel,
                first.enumerator_code or "",
                first.language,
                export_status(first.status, first.expires_at, now),
                first.campaign_id or "",
                "" if first.wave is None else str(first.wave),
            ),
            started_at=first.started_at,
            completed_at=first.completed_at,
            answers={row.answer_key: row.answer_value for row in group if row.answer_key},
        )
