"""Results for staff: submissions page by page, oldest first, with their answers as codes.

Reads only pseudonymised data and returns frozen values that render as JSON (``as_dict``).
Answers to a whole-number question of a known flow are numbers (``6``, not ``"6"``).
Pages are keyed by an opaque cursor, not an offset. The headline report over the same
submissions is in ``gateway.results.report``.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from flows.model import Flow, QuestionType
from gateway.results.export_rows import export_status, iso_utc
from gateway.results.selection import EVERYTHING, SubmissionFilter
from gateway.surveys.models import StoredAnswer, Submission

PER_PAGE_DEFAULT = 50
PER_PAGE_MAX = 100
_WHOLE = re.compile(r"-?[0-9]{1,15}")


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
    answers: Mapping[str, str | int]

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
    flows: Mapping[str, Flow] | None = None,
) -> SubmissionPage:
    """One page of submissions of a flow and/or a campaign (``selection``), oldest first.

    Pages are keyed by a cursor (the last row's start time and id), not an offset, so
    submissions arriving while someone pages through neither repeat nor skip rows. A cursor
    that is not one this function made raises ValueError; ``per_page`` must be 1 to 100.
    ``flows`` are the flows known by id: their whole-number answers are given as numbers.
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
            select(StoredAnswer.submission_id, StoredAnswer.key, StoredAnswer.value)
            .where(StoredAnswer.submission_id.in_(list(answers)))
            .order_by(StoredAnswer.submission_id, StoredAnswer.seq)
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
            answers=_typed(answers[s.id], (flows or {}).get(s.flow)),
        )
        for s in submissions
    )
    last = submissions[-1] if more else None
    next_cursor = encode_cursor(last.started_at, last.id) if last is not None else None
    return SubmissionPage(items=items, total=total, per_page=per_page, next_cursor=next_cursor)


def _typed(answers: dict[str, str], flow: Flow | None) -> dict[str, str | int]:
    """The answers, those to whole-number questions as numbers (text that is none stays)."""
    if flow is None:
        return dict(answers)
    numbers = {q.key for q in flow.questions if q.type == QuestionType.INTEGER}
    return {
        key: int(value) if key in numbers and _WHOLE.fullmatch(value) else value
        for key, value in answers.items()
    }


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
