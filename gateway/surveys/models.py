"""The survey tables: respondents, their submissions and answers, and opt-outs.

A respondent appears here only as a pseudonym.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.core.clock import utc_now
from gateway.core.models import Base, UTCDateTime, enum_column


class SubmissionStatus(StrEnum):
    """Where a respondent's run of a survey flow stands."""

    STARTED = "started"
    COMPLETED = "completed"
    DECLINED = "declined"


class Respondent(Base):
    """A person who answered, known only by pseudonym."""

    __tablename__ = "respondents"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    language: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now, onupdate=utc_now)


class Submission(Base):
    """One run of a survey flow by one respondent; its id is the run id."""

    __tablename__ = "submissions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    respondent_id: Mapped[str] = mapped_column(String(64), ForeignKey("respondents.id"), index=True)
    flow: Mapped[str] = mapped_column(String(64), index=True)
    flow_version: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(8))
    language: Mapped[str] = mapped_column(String(8))
    status: Mapped[SubmissionStatus] = mapped_column(
        enum_column(SubmissionStatus, "submission_status", length=16),
        default=SubmissionStatus.STARTED,
    )
    reference: Mapped[str | None] = mapped_column(String(12), index=True)
    # The code of the enumerator who took the survey for the household, if one did.
    enumerator_code: Mapped[str | None] = mapped_column(String(12), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())

    answers: Mapped[list[StoredAnswer]] = relationship(
        back_populates="submission",
        order_by="StoredAnswer.seq",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class StoredAnswer(Base):
    """A respondent's current answer (a code) to one question of a submission."""

    __tablename__ = "answers"

    submission_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("submissions.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    # The run's step number when answered: a late job must not overwrite a newer answer.
    seq: Mapped[int] = mapped_column(Integer)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime())

    submission: Mapped[Submission] = relationship(back_populates="answers")


class OptOut(Base):
    """A respondent who sent STOP: no message goes to them until they send START."""

    __tablename__ = "opt_outs"

    respondent_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    opted_out_at: Mapped[datetime] = mapped_column(UTCDateTime())
