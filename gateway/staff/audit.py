"""The audit log: who did what to which object, one appended row per action.

Actors are named as people read them: ``user:alice`` (dashboard), ``token:<name>`` (API token),
``cli`` (a command at the server's terminal), ``worker`` (a job nobody asked for then, such as
the nightly purge). ``audit`` adds the row to the caller's session, so
it commits or rolls back with the action it records: no action without its row, no row for an
action that failed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.core.clock import utc_now
from gateway.core.logs import mask_numbers
from gateway.staff.models import AuditEvent

CLI_ACTOR = "cli"
WORKER_ACTOR = "worker"
# Column widths of audit_events, so an overlong value is cut here, not refused by PostgreSQL.
_ACTOR_LENGTH = 80
_ACTION_LENGTH = 64
_OBJECT_TYPE_LENGTH = 32
_OBJECT_ID_LENGTH = 64


class NamedActor(Protocol):
    """Anything that names an actor (``gateway.staff.actors.Actor``); ``str()`` gives its label."""

    def __str__(self) -> str: ...


def audit(
    session: Session,
    actor: NamedActor | str,
    action: str,
    object_type: str,
    object_id: str | None = None,
    detail: str | None = None,
) -> AuditEvent:
    """Record that ``actor`` did ``action`` (``"enumerator.approve"``) to an object.

    Anything in ``detail`` that looks like a phone number is masked: the audit log is read by
    more people than the outbox, and must never hold a number.
    """
    event = AuditEvent(
        at=utc_now(),
        actor=str(actor)[:_ACTOR_LENGTH],
        action=action[:_ACTION_LENGTH],
        object_type=object_type[:_OBJECT_TYPE_LENGTH],
        object_id=object_id[:_OBJECT_ID_LENGTH] if object_id is not None else None,
        detail=mask_numbers(detail) if detail is not None else None,
    )
    session.add(event)
    session.flush()
    return event


def audit_page(
    session: Session,
    *,
    actor: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    before: datetime | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[int, list[AuditEvent]]:
    """How many events match, and one page of them, newest first; filters are exact, the
    period is ``since`` (included) to ``before`` (excluded)."""
    stmt = select(AuditEvent)
    if actor is not None:
        stmt = stmt.where(AuditEvent.actor == actor)
    if action is not None:
        stmt = stmt.where(AuditEvent.action == action)
    if since is not None:
        stmt = stmt.where(AuditEvent.at >= since)
    if before is not None:
        stmt = stmt.where(AuditEvent.at < before)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    if offset >= total:
        # Past the last page (a page number may be any size): nothing, without asking the
        # database for an offset it cannot hold.
        return total, []
    page = session.scalars(stmt.order_by(AuditEvent.id.desc()).offset(offset).limit(limit))
    return total, list(page)


def logged_actions(session: Session) -> list[str]:
    """Every action the log holds, for a filter's choices."""
    return list(session.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action)))
