"""The outbox as staff see it: the latest outbound messages, numbers masked.

What ``survey-gateway outbox`` lists. Only the masked number is read, never the encrypted one;
a respondent is picked out by pseudonym.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime

from sqlalchemy import select
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
