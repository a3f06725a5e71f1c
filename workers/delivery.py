"""The delivery-report job: apply one of AT's delivery reports to the message it is about.

AT reports each message's way through the mobile network: Sent, Submitted, Buffered, then one
final status (Success, Failed, Rejected or Expired). Reports can arrive late and out of order,
so a report only ever moves a message forward, and a final status is never changed. The job is
safe to run twice: the second run finds the message already where the report puts it.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, select, update

from gateway.messaging.models import Message, MessageStatus
from workers.context import current

log = logging.getLogger(__name__)

# AT's delivery statuses in our words; matched without regard to case. Any other status is
# kept verbatim in provider_status and leaves the message's status as it was.
AT_STATUSES: dict[str, MessageStatus] = {
    "sent": MessageStatus.SENT,
    "submitted": MessageStatus.SUBMITTED,
    "buffered": MessageStatus.BUFFERED,
    "success": MessageStatus.DELIVERED,
    "failed": MessageStatus.FAILED,
    "rejected": MessageStatus.REJECTED,
    "expired": MessageStatus.EXPIRED,
}

# How far along the network a non-final status is; a report never moves a message back.
# Statuses a report cannot find (no provider id: queued, sending, unknown, recorded) come first.
_PROGRESS: dict[MessageStatus, int] = {
    MessageStatus.QUEUED: 0,
    MessageStatus.SENDING: 0,
    MessageStatus.UNKNOWN: 0,
    MessageStatus.RECORDED: 0,
    MessageStatus.SENT: 1,
    MessageStatus.SUBMITTED: 2,
    MessageStatus.BUFFERED: 3,
}
_NON_FINAL = tuple(status for status in MessageStatus if not status.is_final)


def our_status(at_status: str) -> MessageStatus | None:
    """Our word for AT's delivery status, or None for a status we do not know."""
    return AT_STATUSES.get(at_status.lower())


def statuses_a_report_may_replace(new: MessageStatus | None) -> tuple[MessageStatus, ...]:
    """The current statuses that a report bringing ``new`` (None: unknown to us) may update.

    Never a final status: AT sends one final status per message, so the first one stands.
    A final report updates any other status; a non-final one only a status no further along.
    """
    if new is None or new.is_final:
        return _NON_FINAL
    return tuple(status for status in _NON_FINAL if _PROGRESS[status] <= _PROGRESS[new])


def record_delivery(
    provider_id: str,
    status: str,
    failure_reason: str | None,
    network_code: str | None,
    reported_at_iso: str,
) -> None:
    """Apply AT's report ``status`` for the message AT calls ``provider_id``.

    ``reported_at_iso`` is when the report reached the webhook (AT's report carries no time):
    it becomes ``delivered_at`` on "Success", however late this job runs.
    """
    reported_at = datetime.fromisoformat(reported_at_iso)
    new = our_status(status)
    values: dict[str, Any] = {"provider_status": status, "failure_reason": failure_reason}
    if network_code is not None:
        values["network_code"] = network_code
    if new is not None:
        values["status"] = new
    if new is MessageStatus.DELIVERED:
        values["delivered_at"] = reported_at
    # One conditional UPDATE rather than read-then-write: two workers applying two reports of
    # one message at once cannot then move it back, on PostgreSQL or SQLite alike.
    statement = (
        update(Message)
        .where(Message.provider_id == provider_id)
        .where(Message.status.in_(statuses_a_report_may_replace(new)))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    with current().runtime.sessions.begin() as session:
        changed = cast(CursorResult[Any], session.execute(statement)).rowcount
        current_status = None
        if not changed:
            current_status = session.scalars(
                select(Message.status).where(Message.provider_id == provider_id).limit(1)
            ).first()
    if changed:
        _log_applied(provider_id, status, new, failure_reason)
    elif current_status is None:
        # A message sent before delivery reports were kept, erased since, or not ours at all.
        log.info("delivery report %s for %s: no such message; ignored", status, provider_id)
    else:
        log.info(
            "delivery report %s for %s: message is %s already; report ignored",
            status,
            provider_id,
            current_status,
        )


def _log_applied(
    provider_id: str, status: str, new: MessageStatus | None, failure_reason: str | None
) -> None:
    if new is None:
        log.warning("message %s: AT status %r is unknown here; kept as is", provider_id, status)
    elif new.is_final and new is not MessageStatus.DELIVERED:
        # Worth an operator's eye: "InsufficientCredit" means every later message fails too.
        log.warning("message %s %s: %s", provider_id, new, failure_reason or "no reason given")
    else:
        log.info("message %s %s", provider_id, new)
