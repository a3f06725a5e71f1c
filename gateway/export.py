"""The read side for people: CSV exports of submissions and the outbox listing.

Nothing here ever reads a phone number: respondents appear by pseudonym, numbers only masked.
"""

from __future__ import annotations

import csv
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TextIO

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from gateway.models import Answer, Message, MessageStatus, Submission, SubmissionStatus

EXPORT_COLUMNS: tuple[str, ...] = (
    "submission_id",
    "respondent",
    "flow",
    "flow_version",
    "channel",
    "enumerator",
    "language",
    "status",
    "started_at",
    "completed_at",
)
EXPIRED = "expired"
# Rows fetched per round trip: the export streams, however many submissions there are.
EXPORT_BATCH = 500

# A cell starting like this is run as a formula by spreadsheet programs; answers to free-text
# questions come from anyone with a phone.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One outbound message as shown to staff: masked number, never the real one."""

    created_at: datetime
    to_masked: str
    kind: str
    status: MessageStatus
    body: str
    provider_id: str | None
    error: str | None


def iso_utc(value: datetime | None) -> str:
    """Format a datetime as ISO 8601 UTC to the second, with ``Z`` (empty for None)."""
    if value is None:
        return ""
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _cell(value: str | None) -> str:
    if value is None:
        return ""
    if value.startswith(_FORMULA_START) and not _NUMBER.fullmatch(value):
        # The leading apostrophe makes spreadsheets show the text instead of evaluating it.
        return "'" + value
    return value


def export_csv(
    session: Session,
    flow_id: str,
    question_keys: Sequence[str],
    out: TextIO,
    now: datetime,
) -> int:
    """Write the flow's submissions as CSV, oldest first, one column per question; count rows.

    Answer columns hold the answer codes, in the order of ``question_keys``. A started
    submission past its ``expires_at`` is shown as ``expired``. ``respondent`` is always the
    household's pseudonym; ``enumerator`` is the code of the enumerator who took the survey for
    it, empty when the household answered alone. Open ``out`` with ``newline=""``: rows end
    with CRLF, as RFC 4180 has it.
    """
    if now.utcoffset() is None:
        raise ValueError("export_csv needs a timezone-aware 'now'")
    keys = list(question_keys)
    if len(set(keys)) != len(keys):
        raise ValueError("question_keys holds a key twice")
    clash = set(keys) & set(EXPORT_COLUMNS)
    if clash:
        raise ValueError(f"question keys clash with export columns: {sorted(clash)}")

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
            Answer.key.label("answer_key"),
            Answer.value.label("answer_value"),
        )
        .select_from(Submission)
        .outerjoin(Answer, and_(Answer.submission_id == Submission.id, Answer.key.in_(keys)))
        .where(Submission.flow == flow_id)
        .order_by(Submission.started_at, Submission.id)
        .execution_options(yield_per=EXPORT_BATCH)
    )
    writer = csv.writer(out)
    writer.writerow([*EXPORT_COLUMNS, *keys])
    count = 0
    result = session.execute(stmt)
    for submission_id, rows in itertools.groupby(result, key=lambda row: row[0]):
        group = list(rows)
        first = group[0]
        answers = {row.answer_key: row.answer_value for row in group if row.answer_key is not None}
        status = str(first.status)
        if first.status == SubmissionStatus.STARTED and first.expires_at < now:
            status = EXPIRED
        writer.writerow(
            [
                submission_id,
                first.respondent_id,
                first.flow,
                first.flow_version,
                first.channel,
                first.enumerator_code or "",
                first.language,
                status,
                iso_utc(first.started_at),
                iso_utc(first.completed_at),
                *(_cell(answers.get(key)) for key in keys),
            ]
        )
        count += 1
    return count


def outbox_rows(session: Session, respondent_id: str | None, limit: int) -> list[OutboxRow]:
    """Return the latest outbound messages, newest first, for one respondent or for all."""
    stmt = select(
        Message.created_at,
        Message.to_masked,
        Message.kind,
        Message.status,
        Message.body,
        Message.provider_id,
        Message.error,
    )
    if respondent_id is not None:
        stmt = stmt.where(Message.respondent_id == respondent_id)
    stmt = stmt.order_by(Message.created_at.desc(), Message.id.desc()).limit(limit)
    return [
        OutboxRow(
            created_at=row.created_at,
            to_masked=row.to_masked,
            kind=row.kind,
            status=row.status,
            body=row.body,
            provider_id=row.provider_id,
            error=row.error,
        )
        for row in session.execute(stmt)
    ]
