"""Dashboard: campaigns, their audience import and report, their progress and state changes.

Everything goes through the campaign domain exactly as ``survey-gateway campaign`` does: one
transaction per change with its audit row, then ``CampaignJobs.after_change`` once committed.
The import report is kept in Redis for a day after the upload, for the campaign page to show
after the redirect (a page reload must not upload the file again); it names rows by number and
masks any number, as the domain wrote it. The domain's reasons (a refusal, a row not taken) are
kept as catalogue keys and said in the language of whoever reads the page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any, Literal

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from gateway.campaign_audience import ImportReport, InvalidRow, csv_rows, import_audience
from gateway.campaign_lifecycle import (
    cancel_campaign,
    pause_campaign,
    resume_campaign,
    start_campaign,
)
from gateway.campaign_models import Campaign, CampaignStatus
from gateway.campaign_progress import Progress, contact_counts, progress
from gateway.campaign_queue import CampaignJobs
from gateway.campaigns import (
    DEFAULT_THROTTLE,
    DEFAULT_TIMEZONE,
    DEFAULT_WINDOW,
    CampaignError,
    CampaignSpec,
    create_campaign,
    find_campaign,
    list_campaigns,
)
from gateway.dashboard import (
    Staff,
    allow_upload,
    language,
    require,
    runtime,
    signed_in,
    staff_blueprint,
    t,
)
from gateway.enumerators import ENUMERATOR_FLOW
from gateway.i18n import Message, translate
from gateway.models import utcnow
from gateway.runtime import Runtime
from gateway.staff_models import Role

Action = Literal["start", "pause", "resume", "cancel"]
# The buttons each status offers, in the order shown.
ACTIONS: dict[CampaignStatus, tuple[Action, ...]] = {
    CampaignStatus.DRAFT: ("start", "cancel"),
    CampaignStatus.RUNNING: ("pause", "cancel"),
    CampaignStatus.PAUSED: ("resume", "cancel"),
    CampaignStatus.CANCELLED: (),
    CampaignStatus.COMPLETED: (),
}
_CHANGES = {
    "start": start_campaign,
    "pause": pause_campaign,
    "resume": resume_campaign,
    "cancel": cancel_campaign,
}
LIST_ROWS = 50
# Invalid rows listed on the page; the rest are counted (the page must stay small).
REPORT_ROWS = 50
REPORT_TTL_S = 24 * 3600
# An uploaded list may be far bigger than any other request (the app's default is 16 KB).
UPLOAD_MAX_BYTES = 8 * 1024 * 1024

bp = staff_blueprint("dashboard_campaigns", __name__, "/dashboard/campaigns")


@dataclass(frozen=True, slots=True)
class Listed:
    """A campaign in the list: its contacts and how many were invited."""

    campaign: Campaign
    contacts: int
    invited: int

    @property
    def percent(self) -> int:
        """Invited, as a whole percentage of the contacts."""
        return round(100 * self.invited / self.contacts) if self.contacts else 0


def listing(rt: Runtime) -> list[Listed]:
    """The newest campaigns with their invitation counts."""
    with rt.sessions() as session:
        rows = list_campaigns(session)[:LIST_ROWS]
        counts = contact_counts(session)
    return [Listed(row, *counts.get(row.id, (0, 0))) for row in rows]


def survey_flows(rt: Runtime) -> list[str]:
    """The flows a campaign may invite to (not the enumerators' registration)."""
    return sorted(flow_id for flow_id in rt.flows if flow_id != ENUMERATOR_FLOW)


def create_with_audience(
    rt: Runtime, staff: Staff, spec: CampaignSpec, upload: IO[bytes]
) -> tuple[Campaign, ImportReport]:
    """Create a draft campaign and import its audience in one transaction; keep the report.

    A list that cannot be read creates nothing (CampaignError says why).
    """
    with rt.sessions.begin() as session:
        campaign = create_campaign(
            session, spec, rt.flows, ussd_flow=rt.settings.ussd_flow, actor=staff.actor
        )
        report = import_audience(session, rt, campaign, csv_rows(upload), actor=staff.actor)
    keep_report(rt, campaign.id, report)
    return campaign, report


def keep_report(rt: Runtime, campaign_id: str, report: ImportReport) -> None:
    """Keep the import report a day, for the campaign page."""
    data = {
        "accepted": report.accepted,
        "duplicates": report.duplicates,
        "opted_out": report.opted_out,
        "invalid_count": report.invalid_count,
        "invalid": [_kept_row(row) for row in report.invalid[:REPORT_ROWS]],
    }
    rt.redis.set(_report_key(campaign_id), json.dumps(data), ex=REPORT_TTL_S)


def kept_report(rt: Runtime, campaign_id: str, language: str) -> dict[str, Any] | None:
    """The import report kept for the campaign, if still kept; its invalid rows are
    ``[row number, reason]``, the reason in ``language``."""
    raw = rt.redis.get(_report_key(campaign_id))
    if not raw:
        return None
    report: dict[str, Any] = json.loads(raw)
    report["invalid"] = [[kept[0], _said(kept, language)] for kept in report["invalid"]]
    return report


def _kept_row(row: InvalidRow) -> list[Any]:
    """``[row number, English reason]``, then the reason's key and values when it has them."""
    if row.problem is None:
        return [row.row_number, row.reason]
    return [row.row_number, row.reason, row.problem.key, row.problem.values]


def _said(kept: list[Any], language: str) -> str:
    """A kept row's reason in ``language``; a report kept with its reason only, as it was."""
    if len(kept) < 4:
        return str(kept[1])
    return translate(language, kept[2], **kept[3])


def _report_key(campaign_id: str) -> str:
    return f"sg:dashboard:import:{campaign_id}"


def change_state(rt: Runtime, staff: Staff, ident: str, action: Action) -> Campaign:
    """Start, pause, resume or cancel, audited; then have the workers act on it."""
    with rt.sessions.begin() as session:
        changed = _CHANGES[action](session, ident, actor=staff.actor)
    CampaignJobs(rt.queue).after_change(changed)
    return changed


def campaign_page(rt: Runtime, ident: str) -> tuple[Campaign, Progress]:
    """The campaign and its counts now; CampaignError when there is no such campaign."""
    with rt.sessions() as session:
        campaign = find_campaign(session, ident)
        return campaign, progress(session, campaign, utcnow())


def parse_spec(form: dict[str, str]) -> CampaignSpec:
    """The campaign asked for in the form; CampaignError for a value that cannot be read."""
    try:
        # A French user types 0,5 for a half.
        throttle = float((form.get("throttle") or str(DEFAULT_THROTTLE)).replace(",", "."))
    except ValueError:
        raise CampaignError(Message("campaign_error.throttle_number")) from None
    start_text = form.get("start_at", "").strip()
    try:
        start_at = datetime.fromisoformat(start_text) if start_text else None
    except ValueError:
        raise CampaignError(Message("campaign_error.start_at", text=start_text[:20])) from None
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
    return render_template("dashboard/campaigns.html", rows=listing(runtime()))


@bp.get("/new")
@require(Role.MANAGER)
def new() -> ResponseReturnValue:
    """The form to create a campaign from a CSV list."""
    return _form_page(problem=None, values={})


@bp.post("/new")
@require(Role.MANAGER)
@allow_upload(UPLOAD_MAX_BYTES)
def create() -> ResponseReturnValue:
    """Create the campaign and import its list, then show it with the import report."""
    rt = runtime()
    values = {name: request.form.get(name, "")[:200] for name in _FIELDS}
    upload = request.files.get("audience")
    try:
        if upload is None or not upload.filename:
            raise CampaignError(Message("campaigns.no_file"))
        spec = parse_spec(values)
        campaign, _ = create_with_audience(rt, signed_in(), spec, upload.stream)
    except CampaignError as exc:
        return _form_page(problem=exc.in_language(language()), values=values), 422
    flash(t("campaigns.created_ok", name=campaign.name), "ok")
    return redirect(url_for("dashboard_campaigns.show", campaign_id=campaign.id))


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
    """A campaign: its settings, counts, the import report, and its buttons by role."""
    rt = runtime()
    try:
        campaign, counts = campaign_page(rt, campaign_id[:36])
    except CampaignError:
        abort(404)
    return render_template(
        "dashboard/campaign.html",
        campaign=campaign,
        counts=counts,
        report=kept_report(rt, campaign.id, language()),
        actions=ACTIONS[campaign.status],
    )


@bp.post("/<campaign_id>/<any(start, pause, resume, cancel):action>")
@require(Role.MANAGER)
def act(campaign_id: str, action: Action) -> ResponseReturnValue:
    """Start, pause, resume or cancel, then back to the campaign page."""
    try:
        changed = change_state(runtime(), signed_in(), campaign_id[:36], action)
    except CampaignError as exc:
        if exc.status == 404:
            abort(404)
        flash(t("campaigns.action_refused", problem=exc.in_language(language())), "error")
        return redirect(url_for("dashboard_campaigns.show", campaign_id=campaign_id[:36]))
    flash(t(f"campaigns.done.{action}"), "ok")
    return redirect(url_for("dashboard_campaigns.show", campaign_id=changed.id))
