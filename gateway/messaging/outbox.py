"""The outbox as staff see it: the latest outbound messages, numbers masked; and the dashboard's
filtered pages of it, without bodies.

What ``survey-gateway outbox`` lists. Only the masked number is read, never the encrypted one;
a respondent is picked out by pseudonym.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.messaging.models import Message, MessageStatus


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


def outbox_rows(session: Session, respondent_id: str | None, limit: int) -> list[OutboxRow]:
    """Return the latest outbound messages, newest first, for one respondent or for all."""
    # The columns are the row's fields, in their order.
    stmt = select(*(getattr(Message, field.name) for field in fields(OutboxRow)))
    if respondent_id is not None:
        stmt = stmt.where(Message.respondent_id == respondent_id)
    stmt = stmt.order_by(Message.created_at.desc(), Message.id.desc()).limit(limit)
    return [OutboxRow(*row) for row in session.execute(stmt)]


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One outbound message as the dashboard lists it: what kind, to whom (masked), what became
    of it and why. Never its body: a household's messages are not for every manager to read."""

    id: str
    created_at: datetime
    to_masked: str
    kind: str
    status: MessageStatus
    campaign_id: str | None
    provider_status: str | None
    failure_reason: str | None
    error: str | None
    attempts: int
    respondent_id: str


@dataclass(frozen=True, slots=True)
class OutboxFilter:
    """Which messages a listing shows: a status, a campaign, a period (``before`` excluded)."""

    status: MessageStatus | None = None
    campaign_id: str | None = None
    since: datetime | None = None
    before: datetime | None = None


def outbox_page(
    session: Session, chosen: OutboxFilter, *, offset: int, limit: int
) -> tuple[int, list[OutboxEntry]]:
    """How many messages match, and one page of them, newest first."""
    conditions = []
    if chosen.status is not None:
        conditions.append(Message.status == chosen.status)
    if chosen.campaign_id is not None:
        conditions.append(Message.campaign_id == chosen.campaign_id)
    if chosen.since is not None:
        conditions.append(Message.created_at >= chosen.since)
    if chosen.before is not None:
        conditions.append(Message.created_at < chosen.before)
    total = session.scalar(select(func.count()).select_from(Message).where(*conditions)) or 0
    if offset >= total:
        return total, []
    stmt = (
        select(*(getattr(Message, field.name) for field in fields(OutboxEntry)))
        .where(*conditions)
        .order_by(Message.created_at.desc(), Message.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return total, [OutboxEntry(*row) for row in session.execute(stmt)]
