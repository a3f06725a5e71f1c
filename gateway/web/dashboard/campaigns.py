"""Dashboard: campaigns, their audience import and report, their progress and state changes.

Each change is one call to ``gateway.campaigns.services``, as from the API and
``survey-gateway campaign``: one transaction with its audit row, then the workers act on it.
An uploaded list is stored encrypted and imported by a worker (``gateway.campaigns.imports``):
the upload redirects to the campaign page at once, and the page follows the import, reloading
itself (a meta refresh: the content security policy allows no script) until the report is
there. The report names rows by number and masks any number, as the domain wrote it. The
domain's reasons (a refusal, a row not taken) are kept as catalogue keys and said in the
language of whoever reads the page.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from gateway.campaigns.definition import (
    DEFAULT_THROTTLE,
    DEFAULT_TIMEZONE,
    DEFAULT_WINDOW,
    CampaignError,
    CampaignSpec,
)
from gateway.campaigns.imports import invalid_rows, latest_import, problem_text, rows_read
from gateway.campaigns.models import Campaign, CampaignImport, CampaignStatus, ImportStatus
from gateway.campaigns.progress import Progress, find_with_progress, listing
from gateway.campaigns.services import (
    Action,
    Audience,
    change_state,
    create_with_audience,
    keep_import_going,
)
from gateway.core.i18n import Translatable
from gateway.core.runtime import Runtime
from gateway.enumerators.registrations import ENUMERATOR_FLOW
from gateway.staff.models import Role
from gateway.web.dashboard.base import (
    allow_upload,
    language,
    require,
    signed_in,
    staff_blueprint,
    t,
)
from gateway.web.runtime import runtime

# The buttons each status offers, in the order shown.
ACTIONS: dict[CampaignStatus, tuple[Action, ...]] = {
    CampaignStatus.DRAFT: ("start", "cancel"),
    CampaignStatus.RUNNING: ("pause", "cancel"),
    CampaignStatus.PAUSED: ("resume", "cancel"),
    CampaignStatus.CANCELLED: (),
    CampaignStatus.COMPLETED: (),
}
LIST_ROWS = 50
# Invalid rows listed on the page; the rest are counted (the page must stay small).
REPORT_ROWS = 50
# While the list is imported, the campaign page reloads itself this often (seconds).
REFRESH_S = 3
# An uploaded list may be far bigger than any other request (the app's default is 16 KB).
UPLOAD_MAX_BYTES = 8 * 1024 * 1024

bp = staff_blueprint("dashboard_campaigns", __name__, "/dashboard/campaigns")


def survey_flows(rt: Runtime) -> list[str]:
    """The flows a campaign may invite to (not the enumerators' registration)."""
    return sorted(flow_id for flow_id in rt.flows if flow_id != ENUMERATOR_FLOW)


def import_state(rt: Runtime, found: CampaignImport | None, language: str) -> dict[str, Any]:
    """The campaign's last import for its page: status, rows read, the report or the reason.

    Invalid rows are ``(row number, reason)``, the reason in ``language``.
    """
    if found is None:
        return {"status": None}
    return {
        "status": found.status.value,
        "pending": found.status in (ImportStatus.QUEUED, ImportStatus.RUNNING),
        "rows": rows_read(rt, found),
        "accepted": found.accepted,
        "duplicates": found.duplicates,
        "opted_out": found.opted_out,
        "invalid_count": found.invalid_count,
        "invalid": invalid_rows(found, language)[:REPORT_ROWS],
        "problem": problem_text(found, language),
    }


def campaign_page(
    rt: Runtime, ident: str, language: str
) -> tuple[Campaign, Progress, dict[str, Any]]:
    """The campaign, its counts now, and its last import; CampaignError when there is no
    such campaign."""
    with rt.sessions() as session:
        campaign, counts = find_with_progress(session, ident)
        found = latest_import(session, campaign.id)
        if found is not None:
            keep_import_going(rt, found)
        return campaign, counts, import_state(rt, found, language)


def parse_spec(form: dict[str, str]) -> CampaignSpec:
    """The campaign asked for in the form; CampaignError for a value that cannot be read."""
    try:
        # A French user types 0,5 for a half.
        throttle = float((form.get("throttle") or str(DEFAULT_THROTTLE)).replace(",", "."))
    except ValueError:
        raise CampaignError(Translatable("campaign_error.throttle_number")) from None
    start_text = form.get("start_at", "").strip()
    try:
        start_at = datetime.fromisoformat(start_text) if start_text else None
    except ValueError:
        raise CampaignError(Translatable("campaign_error.start_at", text=start_text[:20])) from None
    return CampaignSpec(
        name=form.get("name", ""),
        flow=form.get("flow", ""),
        channel=form.get("channel", ""),
        start_at=start_at,
        window=form.get("window") or DEFAULT_WINDOW,
        timezone=form.get("timezone") or DEFAULT_TIMEZONE,
        throttle=throttle,
    )


@bp.get("/")
@require(Role.VIEWER)
def index() -> ResponseReturnValue:
    """The campaigns, newest first, with their progress."""
    with runtime().sessions() as session:
        rows = listing(session, LIST_ROWS)
    return render_template("dashboard/campaigns.html", rows=rows)


@bp.get("/new")
@require(Role.MANAGER)
def new() -> ResponseReturnValue:
    """The form to create a campaign from a CSV list."""
    return _form_page(problem=None, values={})


@bp.post("/new")
@require(Role.MANAGER)
@allow_upload(UPLOAD_MAX_BYTES)
def create() -> ResponseReturnValue:
    """Create the campaign and queue the import of its list, then show it importing."""
    rt = runtime()
    values = {name: request.form.get(name, "")[:200] for name in _FIELDS}
    upload = request.files.get("audience")
    try:
        if upload is None or not upload.filename:
            raise CampaignError(Translatable("campaigns.no_file"))
        spec = parse_spec(values)
        created = create_with_audience(rt, signed_in().actor, spec, Audience(upload.stream))
    except CampaignError as exc:
        return _form_page(problem=exc.in_language(language()), values=values), 422
    flash(t("campaigns.created_ok", name=created.campaign.name), "ok")
    return redirect(url_for("dashboard_campaigns.show", campaign_id=created.campaign.id))


_FIELDS = ("name", "flow", "channel", "start_at", "window", "timezone", "throttle")


def _form_page(problem: str | None, values: dict[str, str]) -> str:
    rt = runtime()
    return render_template(
        "dashboard/campaign_new.html",
        flows=survey_flows(rt),
        ussd_flow=rt.settings.ussd_flow,
        problem=problem,
        values=values,
        defaults={
            "window": DEFAULT_WINDOW,
            "timezone": DEFAULT_TIMEZONE,
            "throttle": f"{DEFAULT_THROTTLE:g}",
        },
    )


@bp.get("/<campaign_id>")
@require(Role.VIEWER)
def show(campaign_id: str) -> ResponseReturnValue:
    """A campaign: its settings, counts, its list's import, and its buttons by role."""
    rt = runtime()
    try:
        campaign, counts, last = campaign_page(rt, campaign_id[:36], language())
    except CampaignError:
        abort(404)
    return render_template(
        "dashboard/campaign.html",
        campaign=campaign,
        counts=counts,
        report=last,
        refresh=REFRESH_S if last["status"] and last["pending"] else None,
        actions=ACTIONS[campaign.status],
    )


@bp.post("/<campaign_id>/<any(start, pause, resume, cancel):action>")
@require(Role.MANAGER)
def act(campaign_id: str, action: Action) -> ResponseReturnValue:
    """Start, pause, resume or cancel, then back to the campaign page."""
    try:
        done = change_state(runtime(), signed_in().actor, campaign_id[:36], action)
    except CampaignError as exc:
        if exc.status == 404:
            abort(404)
        flash(t("campaigns.action_refused", problem=exc.in_language(language())), "error")
        return redirect(url_for("dashboard_campaigns.show", campaign_id=campaign_id[:36]))
    flash(t(f"campaigns.done.{action}"), "ok")
    return redirect(url_for("dashboard_campaigns.show", campaign_id=done.campaign.id))
