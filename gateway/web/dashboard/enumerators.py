"""Dashboard: enumerators awaiting approval, and a manager's decision on each.

A decision is ``gateway.enumerators.services.decide``, as the API and ``survey-gateway
enumerators`` make it: audited, then the Redis marker and the approval SMS once committed.
"""

from __future__ import annotations

from typing import Literal

from flask import flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from gateway.core.runtime import Runtime
from gateway.enumerators.models import Enumerator, EnumeratorStatus
from gateway.enumerators.registrations import (
    EnumeratorError,
    list_enumerators,
)
from gateway.enumerators.services import decide
from gateway.staff.models import Role
from gateway.web.dashboard.base import require, signed_in, staff_blueprint, t
from gateway.web.runtime import runtime

Decision = Literal["approve", "reject"]
# Rows on one page: the page must stay small on a slow link; the oldest wait longest.
PAGE_ROWS = 50

bp = staff_blueprint("dashboard_enumerators", __name__, "/dashboard/enumerators")


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
        done = decide(runtime(), signed_in().actor, enumerator_id[:36], decision)
    except EnumeratorError:
        flash(t("enumerators.cannot"), "error")
        return redirect(url_for("dashboard_enumerators.index"))
    who = done.enumerator
    if decision == "approve":
        flash(t("enumerators.approved", name=who.full_name, code=who.code or ""), "ok")
    else:
        flash(t("enumerators.rejected", name=who.full_name), "ok")
    return redirect(url_for("dashboard_enumerators.index"))
