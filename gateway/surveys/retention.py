"""Retention and key rotation of stored phone numbers.

Numbers are kept only to send messages, encrypted. After the retention period (90 days by
default, or a campaign's own) the purge blanks every stored number and message body; answers
stay, under pseudonyms; an uploaded list still waiting for its import after a day is removed.
Rotation re-encrypts every stored number (and every uploaded list still waiting) under the
current key, so an old key can then be retired; pseudonyms do not change (they depend on the
secret key only).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from gateway.campaigns.imports import purge_stale_uploads, rotate_uploads
from gateway.campaigns.models import Campaign, CampaignContact
from gateway.core.crypto import NumberCipher
from gateway.enumerators.models import Enumerator, EnumeratorStatus
from gateway.messaging.models import Message, MessageStatus
from gateway.surveys.live_rotation import rotate_live_tokens
from gateway.surveys.session_store import RedisSessionStore

PURGED = ""
"""What a purged number or body becomes: nothing."""

# Messages still on their way keep their number: the purge must not stop a send or a retry.
_FINISHED_MESSAGES = tuple(
    s for s in MessageStatus if s not in (MessageStatus.QUEUED, MessageStatus.SENDING)
)
_BATCH = 500


@dataclass(frozen=True, slots=True)
class PurgeReport:
    """What one purge removed."""

    message_numbers: int
    message_bodies: int
    campaign_numbers: int
    enumerator_numbers: int
    stale_uploads: int = 0

    def lines(self) -> list[str]:
        """The report as sentences a person reads."""
        return [
            f"{self.message_numbers} outbox numbers and {self.message_bodies} message bodies",
            f"{self.campaign_numbers} campaign audience numbers",
            f"{self.enumerator_numbers} numbers of rejected or revoked enumerators",
            f"{self.stale_uploads} uploaded lists never imported",
        ]


def purge(session: Session, now: datetime, default_days: int) -> PurgeReport:
    """Blank the numbers and message bodies kept past their retention period."""
    cutoff = now - timedelta(days=default_days)
    sent_before_cutoff = (Message.created_at < cutoff, Message.status.in_(_FINISHED_MESSAGES))
    numbers = _blank(session, Message.to_encrypted, *sent_before_cutoff)
    bodies = _blank(session, Message.body, *sent_before_cutoff)
    campaigns = 0
    for campaign in session.scalars(select(Campaign)):
        days = campaign.retention_days or default_days
        ended = campaign.finished_at or campaign.created_at
        if ended >= now - timedelta(days=days):
            continue
        campaigns += _blank(
            session,
            CampaignContact.phone_encrypted,
            CampaignContact.campaign_id == campaign.id,
        )
    enumerators = _blank(
        session,
        Enumerator.phone_encrypted,
        Enumerator.status.in_([EnumeratorStatus.REJECTED, EnumeratorStatus.REVOKED]),
        Enumerator.decided_at < cutoff,
    )
    # An uploaded list holds numbers in clear (encrypted): it never waits past a day.
    stale = purge_stale_uploads(session, now)
    return PurgeReport(numbers, bodies, campaigns, enumerators, stale)


@dataclass(frozen=True, slots=True)
class RotationReport:
    """How many stored numbers were re-encrypted, where."""

    messages: int
    campaign_contacts: int
    enumerators: int
    live: int
    uploads: int = 0


def rotate_keys(session: Session, store: RedisSessionStore, cipher: NumberCipher) -> RotationReport:
    """Re-encrypt every stored number under the current (first) key."""
    counts = [
        _rotate_column(session, cipher, Message, "to_encrypted"),
        _rotate_column(session, cipher, CampaignContact, "phone_encrypted"),
        _rotate_column(session, cipher, Enumerator, "phone_encrypted"),
    ]
    # Live state too: runs under way, USSD sessions of enumerators, numbers replies wait for.
    live = rotate_live_tokens(store.redis, cipher.rotate)
    messages, contacts, enumerators = counts
    uploads = rotate_uploads(session, cipher)
    return RotationReport(messages, contacts, enumerators, live, uploads)


def _rotate_column(session: Session, cipher: NumberCipher, model: Any, column: str) -> int:
    """Rotate one encrypted column, streamed and written back in batches."""
    rotated = 0
    pending: list[dict[str, Any]] = []
    rows = session.execute(
        select(model.id, getattr(model, column)).execution_options(yield_per=_BATCH)
    )
    for row_id, token in rows:
        if token == PURGED:
            continue
        pending.append({"id": row_id, column: cipher.rotate(token)})
        if len(pending) == _BATCH:
            session.execute(update(model), pending)
            rotated, pending = rotated + len(pending), []
    if pending:
        session.execute(update(model), pending)
        rotated += len(pending)
    return rotated


def _blank(session: Session, column: Any, *where: Any) -> int:
    """Blank a column in the rows matching ``where`` (those not blank yet); how many."""
    statement = (
        update(column.class_)
        .where(*where, column != PURGED)
        .values({column: PURGED})
        .execution_options(synchronize_session=False)
    )
    result: CursorResult[Any] = session.execute(statement)  # type: ignore[assignment]
    return result.rowcount
