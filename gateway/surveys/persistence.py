"""The write side of the database, as used by the RQ jobs.

Each function takes a SQLAlchemy session and leaves committing to the caller. Jobs may run
twice, or late and out of order, so every write is idempotent and converges on the newest
state of a run: a snapshot never overwrites what a newer snapshot wrote.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core.crypto import NumberCipher, reference_code
from gateway.messaging.models import Message, MessageStatus
from gateway.surveys.models import Respondent, StoredAnswer, Submission, SubmissionStatus
from handlers.phone import mask_phone

SnapshotStatus = Literal["active", "completed", "declined"]
"""A run's status as a snapshot carries it (an expired run is still ``active`` here)."""

_SUBMISSION_STATUS: dict[str, SubmissionStatus] = {
    "active": SubmissionStatus.STARTED,
    "completed": SubmissionStatus.COMPLETED,
    "declined": SubmissionStatus.DECLINED,
}
_ENDED = frozenset({SubmissionStatus.COMPLETED, SubmissionStatus.DECLINED})


@dataclass(frozen=True, slots=True)
class RunSnapshot:
    """The whole state of one run at one moment, as a job hands it to :func:`sync_submission`.

    ``answers`` maps a question key to ``(value, seq, answered_at)``, where ``seq`` is the run's
    step number when the answer was given; steps only go up within a run. ``enumerator_code``
    is the code of the enumerator who took the survey for the household, if one did.
    """

    run_id: str
    respondent_id: str
    flow: str
    flow_version: int
    channel: str
    language: str
    status: SnapshotStatus
    started_at: datetime
    updated_at: datetime
    expires_at: datetime
    completed_at: datetime | None = None
    answers: Mapping[str, tuple[str, int, datetime]] = field(default_factory=dict)
    enumerator_code: str | None = None

    def __post_init__(self) -> None:
        if self.status not in _SUBMISSION_STATUS:
            raise ValueError(f"unknown run status {self.status!r}")
        stamps = [self.started_at, self.updated_at, self.expires_at, self.completed_at]
        stamps += [answered_at for _, _, answered_at in self.answers.values()]
        if any(t is not None and t.utcoffset() is None for t in stamps):
            # Naive times would compare wrongly with the stored, aware ones.
            raise ValueError("RunSnapshot needs timezone-aware datetimes")

    @property
    def max_seq(self) -> int | None:
        """The highest step number among the answers, or None when nothing is answered yet."""
        return max((seq for _, seq, _ in self.answers.values()), default=None)


def _sync_respondent(session: Session, snap: RunSnapshot) -> None:
    respondent = session.get(Respondent, snap.respondent_id)
    if respondent is None:
        session.add(
            Respondent(
                id=snap.respondent_id,
                language=snap.language,
                created_at=snap.started_at,
                updated_at=snap.updated_at,
            )
        )
        # No relationship orders respondent before submission, so flush for the foreign key.
        session.flush()
        return
    # Timestamps come from the runs, not the clock, so replaying snapshots in any order
    # leaves the same row: the first run seen, and the language of the latest one.
    if snap.started_at < respondent.created_at:
        respondent.created_at = snap.started_at
    if snap.updated_at >= respondent.updated_at:
        respondent.updated_at = snap.updated_at
        respondent.language = snap.language


def _apply_state(submission: Submission, snap: RunSnapshot) -> None:
    submission.language = snap.language
    submission.channel = snap.channel  # a run may move from USSD to SMS and back
    submission.enumerator_code = snap.enumerator_code
    submission.updated_at = snap.updated_at
    submission.expires_at = snap.expires_at


def _apply_status(submission: Submission, snap: RunSnapshot, status: SubmissionStatus) -> None:
    # An ended run never reopens, even if a skewed clock makes a started snapshot look newer.
    if submission.status in _ENDED and status not in _ENDED:
        return
    submission.status = status
    if status in _ENDED:
        submission.completed_at = snap.completed_at or snap.updated_at
        submission.reference = reference_code(snap.run_id)
    else:
        submission.completed_at = None
        submission.reference = None


def _sync_answers(session: Session, snap: RunSnapshot) -> None:
    stored = {
        answer.key: answer
        for answer in session.scalars(
            select(StoredAnswer).where(StoredAnswer.submission_id == snap.run_id)
        )
    }
    stored_max = max((answer.seq for answer in stored.values()), default=None)
    snap_max = snap.max_seq
    for key, (value, seq, answered_at) in snap.answers.items():
        answer = stored.get(key)
        if answer is None:
            # Snapshots are whole states: an answer missing from the store but older than one
            # stored was dropped by a newer snapshot (a reroute); this snapshot is stale.
            if stored_max is not None and seq < stored_max:
                continue
            session.add(
                StoredAnswer(
                    submission_id=snap.run_id,
                    key=key,
                    value=value,
                    seq=seq,
                    answered_at=answered_at,
                )
            )
        elif seq >= answer.seq:
            answer.value = value
            answer.seq = seq
            answer.answered_at = answered_at
    if snap_max is None:
        return
    for key, answer in stored.items():
        # The respondent went back and rerouted: a question answered before this snapshot's
        # newest step but absent from it no longer applies. Newer rows belong to a newer run
        # state that this (late) snapshot knows nothing of.
        if key not in snap.answers and answer.seq < snap_max:
            session.delete(answer)


def sync_submission(session: Session, snap: RunSnapshot) -> Submission:
    """Write a run snapshot: respondent, submission and answers, idempotently and in any order.

    Raises ``IntegrityError`` on flush if another transaction inserted the same rows first;
    the caller holds a per-run lock, so that means a bug or a lost lock, and the job retries.
    """
    status = _SUBMISSION_STATUS[snap.status]
    _sync_respondent(session, snap)
    submission = session.get(Submission, snap.run_id)
    if submission is None:
        submission = Submission(
            id=snap.run_id,
            respondent_id=snap.respondent_id,
            flow=snap.flow,
            flow_version=snap.flow_version,
            started_at=snap.started_at,
        )
        # The channel and the status are written here as on every later snapshot.
        _apply_state(submission, snap)
        _apply_status(submission, snap, status)
        session.add(submission)
        session.flush()
    elif snap.updated_at >= submission.updated_at:
        _apply_state(submission, snap)
        _apply_status(submission, snap, status)
    elif status in _ENDED:
        # The end of a run is news whatever the clocks say (skew between web processes), but
        # the rest of this snapshot is older than what is stored.
        _apply_status(submission, snap, status)
    _sync_answers(session, snap)
    session.flush()
    return submission


def create_message(
    session: Session,
    *,
    submission_id: str | None,
    respondent_id: str,
    kind: str,
    to_e164: str,
    body: str,
    cipher: NumberCipher,
) -> Message:
    """Queue a message, or return the one already made for this ``(submission_id, kind)``.

    Without a submission there is nothing to deduplicate on, so a new message is always made.
    """
    if submission_id is not None:
        existing = session.scalars(
            select(Message).where(Message.submission_id == submission_id, Message.kind == kind)
        ).one_or_none()
        if existing is not None:
            return existing
    message = Message(
        submission_id=submission_id,
        respondent_id=respondent_id,
        kind=kind,
        to_encrypted=cipher.encrypt(to_e164),
        to_masked=mask_phone(to_e164),
        body=body,
        status=MessageStatus.QUEUED,
        attempts=0,
    )
    session.add(message)
    session.flush()
    return message
