"""Dashboard: enumerators awaiting approval, and a manager's decision on each.

A decision goes exactly as ``survey-gateway enumerators`` makes it: one transaction (with its
audit row), then, once committed, the Redis marker that shows an approved enumerator the USSD
enumerator menu, and the approval SMS handed to the workers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from flask import flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from gateway.core.runtime import Runtime
from gateway.enumerators.models import Enumerator, EnumeratorStatus
from gateway.enumerators.registrations import (
    ENUMERATOR_FLOW,
    EnumeratorError,
    approve,
    find_enumerator,
    list_enumerators,
    redis_marker,
    reject,
)
from gateway.staff.audit import audit
from gateway.staff.models import Role
from gateway.web.dashboard.base import Staff, require, signed_in, staff_blueprint, t
from gateway.web.runtime import runtime

Decision = Literal["approve", "reject"]
# Rows on one page: the page must stay small on a slow link; the oldest wait longest.
PAGE_ROWS = 50

bp = staff_blueprint("dashboard_enumerators", __name__, "/dashboard/enumerators")


@dataclass(frozen=True, slots=True)
class Decided:
    """What a decision did: the enumerator after it, and whether an SMS was queued."""

    enumerator: Enumerator
    sms_queued: bool


def decide(rt: Runtime, staff: Staff, enumerator_id: str, decision: Decision) -> Decided:
    """Approve or reject one registration, audited; then set the marker and queue the SMS.

    Raises EnumeratorError when the enumerator is unknown or not in a status for it.
    """
    message_id: str | None = None
    with rt.sessions.begin() as session:
        before = find_enumerator(session, enumerator_id).status
        if decision == "approve":
            approval = approve(session, enumerator_id, rt.cipher, rt.flows[ENUMERATOR_FLOW])
            enumerator, message_id = approval.enumerator, approval.message_id
        else:
            enumerator = reject(session, enumerator_id)
        if enumerator.status is not before:
            # Worded as the API words it, so the audit log reads the same whichever was used.
            code = f", code {enumerator.code}" if enumerator.code else ""
            detail = f"{before} -> {enumerator.status}{code}"
            audit(
                session, staff.actor, f"enumerator.{decision}", "enumerator", enumerator.id, detail
            )
    # Only once committed: a marker or an SMS for a decision that rolled back would lie.
    rt.store.set_enumerator(enumerator.respondent_id, redis_marker(enumerator))
    if message_id is not None:
        rt.jobs.send_message(message_id)
    return Decided(enumerator, message_id is not None)


def pending(rt: Runtime) -> tuple[list[Enumerator], int]:
    """The oldest pending registrations (one page of them) and how many are pending in all."""
    with rt.sessions() as session:
        rows = list_enumerators(session, EnumeratorStatus.PENDING)
    return rows[:PAGE_ROWS], len(rows)


@bp.get("/")
@require(Role.MANAGER)
def index() -> ResponseReturnValue:
    """Registrations waiting for a decision, oldest first."""
    rows, total = pending(runtime())
    return render_template("dashboard/enumerators.html", rows=rows, total=total)


@bp.post("/<enumerator_id>/<any(approve, reject):decision>")
@require(Role.MANAGER)
def decide_view(enumerator_id: str, decision: Decision) -> ResponseReturnValue:
    """Approve or reject one registration, then back to the list with what happened."""
    try:
        done = decide(runtime(), signed_in(), enumerator_id[:36], decision)
    except EnumeratorError:
        flash(t("enumerators.cannot"), "error")
        return redirect(url_for("dashboard_enumerators.index"))
    who = done.enumerator
    if decision == "approve":
        flash(t("enumerators.approved", name=who.full_name, code=who.code or ""), "ok")
    else:
        flash(t("enumerators.rejected", name=who.full_name), "ok")
    return redirect(url_for("dashboard_enumerators.index"))
