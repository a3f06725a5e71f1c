"""The outbox table (``messages``): every outbound SMS and what became of it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.core.clock import new_id, utc_now
from gateway.core.models import Base, UTCDateTime, enum_column

# A message may belong to a submission: its table must be known to resolve the foreign key.
from gateway.surveys import models as _survey_models  # noqa: F401


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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now, onupdate=utc_now)

    __table_args__ = (UniqueConstraint("submission_id", "kind"),)
