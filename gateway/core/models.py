"""The gateway's tables, as SQLAlchemy models: their base, and the survey and outbox tables.

Here: the declarative base and the column types every table uses, then respondents, their
submissions and answers, the outbox (``messages``), opt-outs and enumerators. The campaign
tables are in ``gateway.campaigns.models``, the staff tables (users, API tokens, audit log) in
``gateway.staff.models``; ``Base.metadata`` holds every table once those are imported too
(``gateway/migrations/env.py`` imports them).

The schema itself is made by the migrations in ``gateway/migrations``; a test checks that the
two agree. A respondent appears here only as a pseudonym; a phone number appears only in
``messages.to_encrypted``, ``enumerators.phone_encrypted`` and
``campaign_contacts.phone_encrypted``, encrypted, because a message must be sent to it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import (
    DateTime,
    Dialect,
    Enum,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Every constraint gets a predictable name, so later migrations (and SQLite batch mode,
# which rebuilds tables) can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Return the current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def new_id() -> str:
    """Return a fresh random id (uuid4, 36 characters)."""
    return str(uuid.uuid4())


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is stored and read back as timezone-aware UTC on every database.

    SQLite has no time zones and would hand back naive datetimes; PostgreSQL hands back the
    session's zone. Naive datetimes are refused on the way in: their zone is a guess.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert to UTC before storing; refuse naive datetimes."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: use a timezone-aware UTC datetime")
        value = value.astimezone(UTC)
        # SQLite stores the text as given; without the zone every row compares alike.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return an aware UTC datetime whatever the database handed back."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class SubmissionStatus(StrEnum):
    """Where a respondent's run of a survey flow stands."""

    STARTED = "started"
    COMPLETED = "completed"
    DECLINED = "declined"


class MessageStatus(StrEnum):
    """What became of an outbound message, as far as we know.

    ``sent`` means AT took the message; AT's delivery reports then move it on through
    ``submitted`` and ``buffered`` to one of the final statuses (see :attr:`is_final`).
    """

    QUEUED = "queued"
    # A worker is handing it to AT. Found so by a later attempt, the worker died mid-send: it
    # becomes UNKNOWN, never re-sent, as AT may have taken it.
    SENDING = "sending"
    SENT = "sent"  # AT accepted it (our send), or AT reported "Sent"
    RECORDED = "recorded"  # kept, not sent: no SMS credentials (development)
    FAILED = "failed"  # refused by AT when sending, or AT reported "Failed"
    SUBMITTED = "submitted"  # AT handed it to the mobile network
    BUFFERED = "buffered"  # the network holds it, e.g. the handset is off
    DELIVERED = "delivered"  # AT reported "Success": it reached the handset
    REJECTED = "rejected"  # the network refused it
    EXPIRED = "expired"  # the network gave up before the handset came back
    # We could not tell whether AT sent it (no answer after sending): marked for a check, and
    # never re-sent, since that could text the person twice.
    UNKNOWN = "unknown"

    @property
    def is_final(self) -> bool:
        """True for the statuses no later delivery report may change."""
        return self in _FINAL_MESSAGE_STATUSES


_FINAL_MESSAGE_STATUSES = frozenset(
    {
        MessageStatus.DELIVERED,
        MessageStatus.FAILED,
        MessageStatus.REJECTED,
        MessageStatus.EXPIRED,
    }
)


def enum_column(enum: type[StrEnum], name: str, *, length: int) -> Enum:
    """The column type of a status: its values as text, checked by a CHECK constraint."""
    return Enum(
        enum,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=length,
        values_callable=_enum_values,
        validate_strings=True,
    )


def _enum_values(enum: type[StrEnum]) -> list[str]:
    # Store "started", not the member name "STARTED": the values are what people query.
    return [member.value for member in enum]


class Base(DeclarativeBase):
    """The one declarative base of the gateway's models."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Respondent(Base):
    """A person who answered, known only by pseudonym."""

    __tablename__ = "respondents"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    language: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


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

    answers: Mapped[list[Answer]] = relationship(
        back_populates="submission",
        order_by="Answer.seq",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class Answer(Base):
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


class Message(Base):
    """An outbound SMS; the number it goes to is stored encrypted, and masked for display."""

    __tablename__ = "messages"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    # Erasing a submission must take its messages (and their encrypted numbers) with it.
    submission_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("submissions.id", ondelete="CASCADE")
    )
    respondent_id: Mapped[str] = mapped_column(String(64), index=True)
    # The campaign whose invitation or reminder this is: its throttle paces the send.
    campaign_id: Mapped[str | None] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(32))
    to_encrypted: Mapped[str] = mapped_column(Text)
    to_masked: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[MessageStatus] = mapped_column(
        enum_column(MessageStatus, "message_status", length=16),
        default=MessageStatus.QUEUED,
    )
    # AT's messageId; indexed because delivery reports find their message by it.
    provider_id: Mapped[str | None] = mapped_column(String(100), index=True)
    # As the provider reports it, currency first ("XOF 25.0000").
    cost: Mapped[str | None] = mapped_column(String(32))
    # AT's last applied delivery status, verbatim, including ones we have no word for.
    provider_status: Mapped[str | None] = mapped_column(String(32))
    # AT's failureReason ("AbsentSubscriber", "InsufficientCredit", ...), when it gives one.
    failure_reason: Mapped[str | None] = mapped_column(String(64))
    # When AT's "Success" report reached us; AT's report carries no time of its own.
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    network_code: Mapped[str | None] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    __table_args__ = (UniqueConstraint("submission_id", "kind"),)


class EnumeratorStatus(StrEnum):
    """Where an enumerator's registration stands; only ``approved`` may survey households."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    REVOKED = "revoked"


class Enumerator(Base):
    """A field worker who registered by SMS to survey households, and the supervisor's decision.

    The number is kept encrypted (for the approval SMS) and masked (for listings); the person is
    otherwise known by pseudonym, like any respondent.
    """

    __tablename__ = "enumerators"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    respondent_id: Mapped[str] = mapped_column(String(64), unique=True)
    phone_encrypted: Mapped[str] = mapped_column(Text)
    phone_masked: Mapped[str] = mapped_column(String(20))
    full_name: Mapped[str] = mapped_column(String(60))
    region: Mapped[str] = mapped_column(String(32))
    site: Mapped[str] = mapped_column(String(40))
    status: Mapped[EnumeratorStatus] = mapped_column(
        enum_column(EnumeratorStatus, "enumerator_status", length=16),
        default=EnumeratorStatus.PENDING,
    )
    # Given on first approval and kept for good, even once revoked: submissions name it.
    code: Mapped[str | None] = mapped_column(String(12), unique=True)
    # The registration run the details come from; unique, so a replayed job registers once.
    run_id: Mapped[str] = mapped_column(String(36), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OptOut(Base):
    """A respondent who sent STOP: no message goes to them until they send START."""

    __tablename__ = "opt_outs"

    respondent_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    opted_out_at: Mapped[datetime] = mapped_column(UTCDateTime())
