"""Dashboard: campaigns, their audience import and report, their progress and state changes.

Each change is one call to ``gateway.campaigns.services``, as from the API and
``survey-gateway campaign``: one transaction with its audit row, then the workers act on it.
An uploaded list is stored encrypted and imported by a worker (``gateway.campaigns.imports``):
the upload redirects to the campaign page at once, and the page follows the import, reloading
itself (a meta refresh: the content security policy allows no script) until the report is
there. The report names rows by number and masks any number, as the domain wrote it. The
domain's reasons (a refusal, a row not taken) are kept as catalogue keys and said in the
language of whoever reads the page. The new-campaign form's fields are read in
``gateway.web.dashboard.campaign_form``; what the pages show is gathered in
``gateway.web.dashboard.campaign_view``. Cancelling, which cannot be undone, is asked for
on a page of its own and needs its box ticked.
"""

from __future__ import annotations

import io

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from gateway.campaigns.definition import CampaignError, find_campaign
from gateway.campaigns.models import Campaign, CampaignStatus
from gateway.campaigns.services import (
    Action,
    Audience,
    add_contacts,
    change_state,
    create_with_audience,
)
from gateway.campaigns.staging import (
    ReceivedList,
    drop_staged,
    read_list,
    stage_list,
    staged_list,
)
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
from gateway.web.dashboard.campaign_form import (
    FormState,
    defaults,
    page_values,
    read_form,
    time_zones,
)
from gateway.web.dashboard.campaign_view import campaign_view, listing
from gateway.web.runtime import runtime

# The buttons each status offers, in the order shown.
ACTIONS: dict[CampaignStatus, tuple[Action, ...]] = {
    CampaignStatus.DRAFT: ("start", "cancel"),
    CampaignStatus.RUNNING: ("pause", "cancel"),
    CampaignStatus.PAUSED: ("resume", "cancel"),
    CampaignStatus.CANCELLED: (),
    CampaignStatus.COMPLETED: (),
}
# Statuses that take more numbers.
OPEN = (CampaignStatus.DRAFT, CampaignStatus.RUNNING, CampaignStatus.PAUSED)
# While the list is imported, the campaign page reloads itself this often (seconds).
REFRESH_S = 3
# An uploaded list may be far bigger than any other request (the app's default is 16 KB).
UPLOAD_MAX_BYTES = 8 * 1024 * 1024

bp = staff_blueprint("dashboard_campaigns", __name__, "/dashboard/campaigns")


def survey_flows() -> list[str]:
    """The flows a campaign may invite to (not the enumerators' registration)."""
    return sorted(flow_id for flow_id in runtime().flows if flow_id != ENUMERATOR_FLOW)


@bp.get("/")
@require(Role.VIEWER)
def index() -> ResponseReturnValue:
    """The campaigns, newest first, with their progress."""
    return render_template("dashboard/campaigns.html", rows=listing(runtime()))


@bp.get("/new")
@require(Role.MANAGER)
def new() -> ResponseReturnValue:
    """The form to create a campaign from a list of numbers (CSV or Excel)."""
    return _form_page(None)


@bp.post("/new")
@require(Role.MANAGER)
@allow_upload(UPLOAD_MAX_BYTES)
def create() -> ResponseReturnValue:
    """Create the campaign and queue the import of its list, then show it importing; or show
    the form again with every problem, keeping the list sent."""
    rt, staff, lang = runtime(), signed_in(), language()
    spec, state = read_form(rt, request.form, lang)
    state.received = _received_list(state)
    if not state.errors and state.received is not None:
        received = state.received
        audience = Audience(io.BytesIO(received.data), received.format)
        try:
            created = create_with_audience(rt, staff.actor, spec, audience)
        except CampaignError as exc:
            state.errors["form"] = exc.in_language(lang)
        else:
            drop_staged(rt, staff.id, received.token)
            flash(t("campaigns.created_ok", name=created.campaign.name), "ok")
            return redirect(url_for("dashboard_campaigns.show", campaign_id=created.campaign.id))
    if state.received is not None and not state.received.token:
        state.received = stage_list(rt, staff.id, state.received)
    return _form_page(state), 422


def _received_list(state: FormState) -> ReceivedList | None:
    """The list sent with the form: a new file, else the one kept from the last try; a
    problem with it goes in ``state.errors``."""
    upload = request.files.get("audience")
    try:
        if upload is not None and upload.filename:
            return read_list(upload.filename, upload.read())
    except CampaignError as exc:
        state.errors["audience"] = exc.in_language(language())
        return None
    token = state.values.get("list_token", "")
    kept = staged_list(runtime(), signed_in().id, token) if token else None
    if kept is None:
        state.errors["audience"] = t("campaigns.form.list_gone" if token else "campaigns.no_file")
    return kept


def _form_page(state: FormState | None) -> str:
    rt = runtime()
    return render_template(
        "dashboard/campaign_new.html",
        flows=survey_flows(),
        ussd_flow=rt.settings.ussd_flow,
        defaults=defaults(),
        time_zones=time_zones(),
        **page_values(state),
    )


@bp.get("/<campaign_id>")
@require(Role.VIEWER)
def show(campaign_id: str) -> ResponseReturnValue:
    """A campaign: its settings, counts, its list's import, and its buttons by role."""
    try:
        view = campaign_view(runtime(), campaign_id[:36], language())
    except CampaignError:
        abort(404)
    report = view.report
    return render_template(
        "dashboard/campaign.html",
        view=view,
        campaign=view.campaign,
        counts=view.counts,
        report=report,
        refresh=REFRESH_S if report["status"] and report["pending"] else None,
        actions=ACTIONS[view.campaign.status],
        takes_numbers=view.campaign.status in OPEN,
    )


@bp.post("/<campaign_id>/contacts")
@require(Role.MANAGER)
@allow_upload(UPLOAD_MAX_BYTES)
def add(campaign_id: str) -> ResponseReturnValue:
    """Add the numbers of another list; a running campaign invites them in turn."""
    rt, lang = runtime(), language()
    upload = request.files.get("audience")
    back = redirect(url_for("dashboard_campaigns.show", campaign_id=campaign_id[:36]))
    try:
        if upload is None or not upload.filename:
            flash(t("campaigns.add.refused", problem=t("campaigns.no_file")), "error")
            return back
        received = read_list(upload.filename, upload.read())
        audience = Audience(io.BytesIO(received.data), received.format)
        add_contacts(rt, signed_in().actor, campaign_id[:36], audience)
    except CampaignError as exc:
        if exc.status == 404:
            abort(404)
        flash(t("campaigns.add.refused", problem=exc.in_language(lang)), "error")
        return back
    flash(t("campaigns.add.done", name=received.filename, rows=received.rows), "ok")
    return back


@bp.get("/<campaign_id>/cancel")
@require(Role.MANAGER)
def confirm_cancel(campaign_id: str) -> ResponseReturnValue:
    """Ask before cancelling: it cannot be undone."""
    return _cancel_page(_campaign(campaign_id), problem=None)


def _cancel_page(campaign: Campaign, problem: str | None) -> str:
    return render_template("dashboard/campaign_cancel.html", campaign=campaign, problem=problem)


def _campaign(campaign_id: str) -> Campaign:
    try:
        with runtime().sessions() as session:
            return find_campaign(session, campaign_id[:36])
    except CampaignError:
        abort(404)


@bp.post("/<campaign_id>/<any(start, pause, resume, cancel):action>")
@require(Role.MANAGER)
def act(campaign_id: str, action: Action) -> ResponseReturnValue:
    """Start, pause, resume or cancel (once confirmed), then back to the campaign page."""
    if action == "cancel" and request.form.get("confirm") != "yes":
        return _cancel_page(_campaign(campaign_id), t("campaigns.cancel.unconfirmed")), 422
    try:
        done = change_state(runtime(), signed_in().actor, campaign_id[:36], action)
    except CampaignError as exc:
        if exc.status == 404:
            abort(404)
        flash(t("campaigns.action_refused", problem=exc.in_language(language())), "error")
        return redirect(url_for("dashboard_campaigns.show", campaign_id=campaign_id[:36]))
    flash(t(f"campaigns.done.{action}"), "ok")
    return redirect(url_for("dashboard_campaigns.show", campaign_id=done.campaign.id))
