"""A supervisor's decision on an enumerator, the same from the API, the dashboard and the CLI.

:func:`decide` is one transaction: the decision (``gateway.enumerators.registrations``) and,
only when it changed something, its audit row, worded ``pending -> approved, code ENQ-7K3D``.
Once committed, and only then, the Redis marker that shows an approved enumerator the USSD
enumerator menu is set or cleared, and an approval's SMS is handed to the workers: a marker or
an SMS for a decision that rolled back would lie.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from gateway.enumerators.models import Enumerator
from gateway.enumerators.registrations import (
    ENUMERATOR_FLOW,
    approve,
    find_enumerator,
    redis_marker,
    reject,
    revoke,
)
from gateway.staff.audit import NamedActor, audit

if TYPE_CHECKING:
    from gateway.core.runtime import Runtime

Decision = Literal["approve", "reject", "revoke"]


@dataclass(frozen=True, slots=True)
class Decided:
    """What a decision did: the enumerator after it, whether it changed, whether an SMS went."""

    enumerator: Enumerator
    changed: bool
    sms_queued: bool


def decide(rt: Runtime, actor: NamedActor | str, ident: str, decision: Decision) -> Decided:
    """Approve, reject or revoke the enumerator ``ident`` names (id, id prefix or code).

    Deciding what is already so changes nothing, audits nothing and sends nothing. Raises
    ``EnumeratorError`` (404 unknown, 409 ambiguous or a status the decision cannot start from).
    """
    message_id: str | None = None
    with rt.sessions.begin() as session:
        enumerator = find_enumerator(session, ident)
        before = enumerator.status
        if decision == "approve":
            approval = approve(session, enumerator.id, rt.cipher, rt.flows[ENUMERATOR_FLOW])
            message_id = approval.message_id
        elif decision == "reject":
            reject(session, enumerator.id)
        else:
            revoke(session, enumerator.id)
        changed = enumerator.status is not before
        if changed:
            code = f", code {enumerator.code}" if enumerator.code else ""
            detail = f"{before} -> {enumerator.status}{code}"
            audit(session, actor, f"enumerator.{decision}", "enumerator", enumerator.id, detail)
    rt.store.set_enumerator(enumerator.respondent_id, redis_marker(enumerator))
    if message_id is not None:
        rt.jobs.send_message(message_id)
    return Decided(enumerator, changed, message_id is not None)
