"""A manager's retry of a failed message, the same from every surface that offers it.

A retry hands the message back to the normal send job (``workers.jobs.send_message``), which
checks opt-outs and paces campaigns as for any send. It is refused whenever sending again could
hurt: the message may have reached the person (delivered, or accepted by AT with no final word
yet, or an outcome nobody knows), the number opted out (STOP, or the network's blacklist), its
campaign was paused or cancelled, it is too old to make sense any more, or its number is no
longer kept. One transaction holds the change back to ``queued`` (a compare-and-set, so two
managers clicking at once queue it once) and its audit row ``message.retry``; the job is queued
once that has committed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from cryptography.fernet import InvalidToken
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from gateway.campaigns.models import Campaign, CampaignStatus
from gateway.core.clock import utc_now
from gateway.core.errors import DomainError
from gateway.core.i18n import Translatable
from gateway.messaging.models import Message, MessageStatus
from gateway.staff.audit import NamedActor, audit
from gateway.surveys.models import OptOut

if TYPE_CHECKING:
    from gateway.core.runtime import Runtime

# The final statuses that say the message did not reach the handset: AT refused it, or the
# network reported it failed, rejected or expired. Any other status may have reached it.
RETRYABLE = frozenset({MessageStatus.FAILED, MessageStatus.REJECTED, MessageStatus.EXPIRED})
# AT's failure reasons that mean the person (or their network) refuses SMS: an opt-out too.
REFUSED_BY_NUMBER = frozenset({"userinblacklist", "useroptedout", "dndrejection"})
# Past this, a question or an invitation is stale: the run it belongs to has likely expired.
RETRY_WITHIN = timedelta(days=7)
_HELD_CAMPAIGNS = frozenset({CampaignStatus.PAUSED, CampaignStatus.CANCELLED})


class MessageError(DomainError):
    """A retry that cannot be done: unknown message (404) or not safe to send again (409)."""


class SentMessage(Protocol):
    """What deciding on a retry reads of a message (a row, or a listing's entry)."""

    @property
    def status(self) -> MessageStatus: ...
    @property
    def failure_reason(self) -> str | None: ...
    @property
    def error(self) -> str | None: ...
    @property
    def respondent_id(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def campaign_id(self) -> str | None: ...


def retry_refusal(
    session: Session, rt: Runtime, message: SentMessage, now: datetime | None = None
) -> Translatable | None:
    """Why sending ``message`` again is not safe, or None when it is (its number is checked by
    :func:`retry_message`, which alone reads it)."""
    if message.status not in RETRYABLE:
        status = Translatable(f"message_status.{message.status.value}")
        return Translatable("retry_error.status", status=status)
    # AT gives the reason in a delivery report, or in its answer to the send (kept in error).
    said = f"{message.failure_reason or ''} {message.error or ''}".lower()
    refused = next((reason for reason in REFUSED_BY_NUMBER if reason in said), None)
    if refused is not None:
        return Translatable(
            "retry_error.refused_by_number", reason=message.failure_reason or refused
        )
    if _opted_out(session, rt, message.respondent_id):
        return Translatable("retry_error.opted_out")
    if message.created_at < (now or utc_now()) - RETRY_WITHIN:
        return Translatable("retry_error.too_old", days=RETRY_WITHIN.days)
    if message.campaign_id is not None:
        campaign_status = session.scalar(
            select(Campaign.status).where(Campaign.id == message.campaign_id)
        )
        if campaign_status in _HELD_CAMPAIGNS:
            status = Translatable(f"campaigns.state.{campaign_status.value}")
            return Translatable("retry_error.campaign", status=status)
    return None


def may_retry(session: Session, rt: Runtime, message: SentMessage) -> bool:
    """Whether a listing offers to send ``message`` again."""
    return message.status in RETRYABLE and retry_refusal(session, rt, message) is None


def retry_message(rt: Runtime, actor: NamedActor | str, message_id: str) -> Message:
    """Queue a failed message to be sent again through the normal send job; audited
    ``message.retry``. Raises MessageError (404 unknown, 409 not safe to send again)."""
    with rt.sessions.begin() as session:
        message = session.get(Message, message_id)
        if message is None:
            raise MessageError(Translatable("retry_error.unknown"), status=404)
        refusal = retry_refusal(session, rt, message) or _number_gone(rt, message)
        if refusal is not None:
            raise MessageError(refusal, status=409)
        before, reason = message.status, message.failure_reason or message.provider_status
        queued = session.execute(
            update(Message)
            .where(Message.id == message.id, Message.status == before)
            .values(
                status=MessageStatus.QUEUED,
                # A late report about the first send must not find the new one.
                provider_id=None,
                provider_status=None,
                failure_reason=None,
                error=None,
            )
            .execution_options(synchronize_session="fetch")
        )
        if queued.rowcount != 1:  # type: ignore[attr-defined]  # an UPDATE's CursorResult
            raise MessageError(Translatable("retry_error.moved"), status=409)
        detail = f"kind={message.kind} {before}{f' ({reason})' if reason else ''} -> queued"
        audit(session, actor, "message.retry", "message", message.id, detail)
    rt.jobs.send_message(message.id)
    return message


def _opted_out(session: Session, rt: Runtime, respondent: str) -> bool:
    """Opted out in the database or in the live state: either is enough to send nothing."""
    on_record = session.get(OptOut, respondent) is not None
    return on_record or rt.store.is_opted_out(respondent)


def _number_gone(rt: Runtime, message: Message) -> Translatable | None:
    """Why the message cannot be sent again for want of its number (purged, key retired)."""
    try:
        rt.cipher.decrypt(message.to_encrypted)
    except InvalidToken:
        return Translatable("retry_error.number_gone")
    return None
