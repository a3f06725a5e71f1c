"""Dashboard: every enumerator by status, the work each has done, and a manager's decisions.

A decision is ``gateway.enumerators.services.decide``, as the API and ``survey-gateway
enumerators`` make it: audited, then the Redis marker and the approval SMS once committed.
Numbers are shown masked, as the registration kept them; the work is read from the
submissions that carry an enumerator's code (``gateway.enumerators.work``).
"""

from __future__ import annotations

from datetime import date

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from flows.model import localise
from gateway.core.clock import utc_now
from gateway.enumerators.activity import enumerator_activity, period, report_flows
from gateway.enumerators.models import EnumeratorStatus
from gateway.enumerators.registrations import ENUMERATOR_FLOW, EnumeratorError
from gateway.enumerators.services import Decision, decide
from gateway.enumerators.work import enumerators_page, status_counts
from gateway.results.selection import UnreadableDate, parse_moment
from gateway.staff.models import Role
from gateway.web.dashboard.base import language, require, signed_in, staff_blueprint, t
from gateway.web.dashboard.listing import Pager, page_asked
from gateway.web.runtime import runtime

# The decisions each status offers, in the order shown.
DECISIONS: dict[EnumeratorStatus, tuple[Decision, ...]] = {
    EnumeratorStatus.PENDING: ("approve", "reject"),
    EnumeratorStatus.APPROVED: ("revoke",),
    EnumeratorStatus.REJECTED: (),
    EnumeratorStatus.REVOKED: ("approve",),
}

bp = staff_blueprint("dashboard_enumerators", __name__, "/dashboard/enumerators")


def status_asked() -> EnumeratorStatus:
    """The status the page lists: the one asked for, else those waiting for a decision."""
    asked = request.args.get("status", "")
    known = {status.value for status in EnumeratorStatus}
    return EnumeratorStatus(asked) if asked in known else EnumeratorStatus.PENDING


def region_names() -> dict[str, str]:
    """The registration flow's regions, code to name in the reader's language."""
    flow = runtime().flows[ENUMERATOR_FLOW]
    return {
        option.code: localise(option.label, language(), flow.default_language)
        for option in flow.question("region").options
    }


@bp.get("/")
@require(Role.MANAGER)
def index() -> ResponseReturnValue:
    """The enumerators in one status, oldest registration first, a page at a time."""
    status = status_asked()
    with runtime().sessions() as session:
        counts = status_counts(session)
        pager = Pager(page=page_asked(), total=counts[status])
        rows = enumerators_page(session, status, offset=pager.offset, limit=pager.rows)
    return render_template(
        "dashboard/enumerators.html",
        status=status,
        counts=counts,
        rows=rows,
        pager=pager,
        decisions=DECISIONS[status],
        regions=region_names(),
    )


@bp.get("/activity")
@require(Role.MANAGER)
def activity() -> ResponseReturnValue:
    """Per enumerator and per day: reports sent by report flow, households surveyed."""
    typed = {name: request.args.get(name, "").strip()[:40] for name in ("since", "until")}
    days: dict[str, date | None] = {}
    errors: dict[str, str] = {}
    for name, text in typed.items():
        try:
            days[name] = parse_moment(text, day_first=True).date() if text else None
        except UnreadableDate as exc:
            errors[name] = t("results.bad_date", value=exc.text)
    first, last = period(days.get("since"), days.get("until"), utc_now().date())
    with runtime().sessions() as session:
        rows = [] if errors else enumerator_activity(session, first, last)
    return render_template(
        "dashboard/enumerator_activity.html",
        args=typed,
        errors=errors,
        first=first,
        last=last,
        rows=rows,
        flows=report_flows(rows),
        regions=region_names(),
    )


@bp.post("/<enumerator_id>/<any(approve, reject, revoke):decision>")
@require(Role.MANAGER)
def decide_view(enumerator_id: str, decision: Decision) -> ResponseReturnValue:
    """Decide on one enumerator, then back to the list they were in with what happened."""
    back = url_for("dashboard_enumerators.index", status=request.form.get("status") or None)
    try:
        done = decide(runtime(), signed_in().actor, enumerator_id[:36], decision)
    except EnumeratorError:
        flash(t("enumerators.cannot"), "error")
        return redirect(back)
    who = done.enumerator
    if decision == "approve":
        flash(t("enumerators.approved", name=who.full_name, code=who.code or ""), "ok")
    elif decision == "reject":
        flash(t("enumerators.rejected", name=who.full_name), "ok")
    else:
        flash(t("enumerators.revoked", name=who.full_name), "ok")
    return redirect(back)
