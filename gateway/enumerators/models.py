"""The enumerators table: field workers who registered by SMS, and the supervisor's decision."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.core.clock import new_id, utc_now
from gateway.core.models import Base, UTCDateTime, enum_column


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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
