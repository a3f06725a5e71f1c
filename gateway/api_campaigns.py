"""Campaigns API: create a campaign with its audience, follow it, start, pause, resume, cancel.

Viewers read; managers change. It goes through ``gateway.campaigns`` and
``gateway.campaign_lifecycle`` as ``survey-gateway campaign`` does: one transaction with its
audit event, then the workers are asked to act. A campaign is created with its audience, either
as JSON (``contacts``: a list of ``{"phone", "language"?, "region"?}``) or as a multipart form
whose ``audience`` file is a CSV; the file is read row by row, never whole. Numbers are never
answered back: rows are named by number.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import marshmallow as ma
from flask import request
from flask_smorest import abort

from gateway.api import ApiBlueprint, read_session, runtime, write_session
from gateway.auth import Role, current_actor, require_role
from gateway.campaign_audience import ImportReport, csv_rows, import_audience, json_rows
from gateway.campaign_lifecycle import (
    cancel_campaign,
    pause_campaign,
    resume_campaign,
    start_campaign,
)
from gateway.campaign_models import Campaign, CampaignChannel, CampaignStatus
from gateway.campaign_progress import contact_counts, progress
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
from gateway.runtime import utc_now

blp = ApiBlueprint("campaigns", __name__, description="Campaigns: surveys sent to a list")
BLUEPRINTS = (blp,)

# A CSV of 100,000 numbers is about 2 MB; JSON is read whole, so it is held to less.
MAX_CSV_BYTES = 20 * 1024 * 1024
MAX_JSON_BYTES = 5 * 1024 * 1024
FORM_MEMORY_BYTES = 256 * 1024
AUDIENCE_FIELD = "audience"


# -- schemas --------------------------------------------------------------------------------


class ProgressSchema(ma.Schema):
    """A campaign's counts, each a number of contacts (see gateway.campaign_progress)."""

    contacts = ma.fields.Integer()
    queued = ma.fields.Integer(metadata={"description": "Invitations still to send"})
    sent = ma.fields.Integer(metadata={"description": "Invitations handed to the outbox"})
    delivered = ma.fields.Integer(metadata={"description": "AT reported them delivered"})
    failed = ma.fields.Integer(metadata={"description": "Failed, rejected or expired on the way"})
    started = ma.fields.Integer(metadata={"description": "Answered at least one question"})
    completed = ma.fields.Integer()
    declined = ma.fields.Integer()
    expired = ma.fields.Integer(metadata={"description": "Did not finish in time"})
    opted_out = ma.fields.Integer(metadata={"description": "Sent STOP"})
    skipped = ma.fields.Integer(metadata={"description": "Had completed the survey already"})


class CampaignSchema(ma.Schema):
    """A campaign's settings and state."""

    id = ma.fields.String()
    name = ma.fields.String()
    flow = ma.fields.String()
    channel = ma.fields.Enum(CampaignChannel, by_value=True)
    status = ma.fields.Enum(CampaignStatus, by_value=True)
    start_at = ma.fields.DateTime(allow_none=True)
    window = ma.fields.Method("_window", metadata={"description": "Daily hours, e.g. 08:00-19:00"})
    timezone = ma.fields.String()
    throttle = ma.fields.Float(metadata={"description": "Invitations a second"})
    reminder_count = ma.fields.Integer()
    reminder_interval_hours = ma.fields.Integer()
    expiry_hours = ma.fields.Integer()
    retention_days = ma.fields.Integer(allow_none=True)
    created_by = ma.fields.String()
    created_at = ma.fields.DateTime()
    started_at = ma.fields.DateTime(allow_none=True)
    finished_at = ma.fields.DateTime(allow_none=True)

    def _window(self, campaign: Campaign) -> str:
        return f"{campaign.window_start:%H:%M}-{campaign.window_end:%H:%M}"


class CampaignListItemSchema(ma.Schema):
    """A campaign in a listing, with how many contacts it has and has invited."""

    campaign = ma.fields.Nested(CampaignSchema)
    contacts = ma.fields.Integer()
    invited = ma.fields.Integer()


class CampaignDetailSchema(ma.Schema):
    """A campaign and its progress."""

    campaign = ma.fields.Nested(CampaignSchema)
    progress = ma.fields.Nested(ProgressSchema)


class ChangeSchema(CampaignDetailSchema):
    """A campaign after a state change."""

    changed = ma.fields.Boolean(metadata={"description": "False when it was in that state"})


class InvalidRowSchema(ma.Schema):
    """A row of the list that was not taken."""

    row_number = ma.fields.Integer(metadata={"description": "CSV: the header is row 1"})
    reason = ma.fields.String(metadata={"description": "Why; any number in it masked"})


class ImportReportSchema(ma.Schema):
    """What the import of the audience did."""

    accepted = ma.fields.Integer()
    duplicates = ma.fields.Integer()
    opted_out = ma.fields.Integer(metadata={"description": "Sent STOP before: left out"})
    invalid_count = ma.fields.Integer()
    invalid = ma.fields.List(
        ma.fields.Nested(InvalidRowSchema), metadata={"description": "The first 1,000"}
    )


class CreatedSchema(ma.Schema):
    """A campaign just made (a draft: start it to send), and the report on its audience."""

    campaign = ma.fields.Nested(CampaignSchema)
    report = ma.fields.Nested(ImportReportSchema)


class ContactSchema(ma.Schema):
    """One number of the audience, in any usual form."""

    phone = ma.fields.String(required=True, validate=ma.validate.Length(max=40))
    language = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=20))
    region = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=100))


class NewCampaignSchema(ma.Schema):
    """A campaign to create. As a multipart form, the same fields and an ``audience`` CSV."""

    class Meta:
        unknown = ma.RAISE

    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=100))
    flow = ma.fields.String(required=True, validate=ma.validate.Length(max=64))
    channel = ma.fields.String(required=True, validate=ma.validate.OneOf(["sms", "ussd"]))
    start_at = ma.fields.DateTime(
        metadata={"description": "Not before; without a zone, a local time of 'timezone'"}
    )
    window = ma.fields.String(load_default=DEFAULT_WINDOW, validate=ma.validate.Length(max=20))
    timezone = ma.fields.String(load_default=DEFAULT_TIMEZONE, validate=ma.validate.Length(max=64))
    throttle = ma.fields.Float(load_default=DEFAULT_THROTTLE)
    reminders = ma.fields.Integer(metadata={"description": "Default: the flow's"})
    reminder_interval_hours = ma.fields.Integer()
    expiry_hours = ma.fields.Integer()
    retention_days = ma.fields.Integer()
    contacts = ma.fields.List(
        ma.fields.Nested(ContactSchema), metadata={"description": "JSON only: the audience"}
    )


# -- views ----------------------------------------------------------------------------------


@blp.route("/campaigns", methods=["GET"])
@require_role(Role.VIEWER)
@blp.response(200, CampaignListItemSchema(many=True))
def campaigns_list() -> Any:
    """Every campaign, newest first, with its number of contacts and of invitations sent."""
    with read_session() as session:
        rows = list_campaigns(session)
        counts = contact_counts(session)
    listed = []
    for campaign in rows:
        total, invited = counts.get(campaign.id, (0, 0))
        listed.append({"campaign": campaign, "contacts": total, "invited": invited})
    return listed


@blp.route("/campaigns", methods=["POST"])
@require_role(Role.MANAGER)
@blp.doc(
    requestBody={
        "required": True,
        "content": {
            "application/json": {"schema": NewCampaignSchema},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["name", "flow", "channel", AUDIENCE_FIELD],
                    "properties": {
                        AUDIENCE_FIELD: {
                            "type": "string",
                            "format": "binary",
                            "description": "CSV with a phone column; language, region optional",
                        }
                    },
                }
            },
        },
    }
)
@blp.response(201, CreatedSchema)
def campaigns_create() -> Any:
    """Create a draft campaign with its audience; the report lists rows not taken."""
    rt = runtime()
    multipart = request.mimetype == "multipart/form-data"
    # The app takes small bodies only; an audience is larger. Set before the body is read.
    request.max_content_length = MAX_CSV_BYTES if multipart else MAX_JSON_BYTES
    # Werkzeug's multipart parser reads 64 KiB at a time and holds each read to this limit.
    request.max_form_memory_size = FORM_MEMORY_BYTES
    if multipart:
        data = _load(request.form.to_dict(), "form")
        upload = request.files.get(AUDIENCE_FIELD)
        if upload is None or not upload.filename:
            _refuse(f"the form needs the list as a CSV file in '{AUDIENCE_FIELD}'")
        rows = csv_rows(upload.stream)
    else:
        data = _load(request.get_json(silent=True), "json")
        if not data.get("contacts"):
            _refuse("the campaign needs its audience: 'contacts', a list of {phone}")
        rows = json_rows(data["contacts"])
    spec = CampaignSpec(
        name=data["name"],
        flow=data["flow"],
        channel=data["channel"],
        start_at=data.get("start_at"),
        window=data["window"],
        timezone=data["timezone"],
        throttle=data["throttle"],
        reminder_count=data.get("reminders"),
        reminder_interval_hours=data.get("reminder_interval_hours"),
        expiry_hours=data.get("expiry_hours"),
        retention_days=data.get("retention_days"),
    )
    actor = current_actor()
    with _campaign_errors(), write_session() as session:
        campaign = create_campaign(
            session, spec, rt.flows, ussd_flow=rt.settings.ussd_flow, actor=actor
        )
        report = import_audience(session, rt, campaign, rows, actor=actor)
    return {"campaign": campaign, "report": _report(report)}


@blp.route("/campaigns/<campaign_id>", methods=["GET"])
@require_role(Role.VIEWER)
@blp.response(200, CampaignDetailSchema)
def campaigns_get(campaign_id: str) -> Any:
    """A campaign (by id, or its first 6 characters or more) and its progress."""
    with _campaign_errors(), read_session() as session:
        campaign = find_campaign(session, campaign_id)
        return {"campaign": campaign, "progress": progress(session, campaign, utc_now())}


@blp.route("/campaigns/<campaign_id>/start", methods=["POST"])
@require_role(Role.MANAGER)
@blp.response(200, ChangeSchema)
def campaigns_start(campaign_id: str) -> Any:
    """Start sending invitations (from start_at on, within the daily window)."""
    return _change(campaign_id, start_campaign)


@blp.route("/campaigns/<campaign_id>/pause", methods=["POST"])
@require_role(Role.MANAGER)
@blp.response(200, ChangeSchema)
def campaigns_pause(campaign_id: str) -> Any:
    """Stop sending invitations until resumed; surveys under way go on."""
    return _change(campaign_id, pause_campaign)


@blp.route("/campaigns/<campaign_id>/resume", methods=["POST"])
@require_role(Role.MANAGER)
@blp.response(200, ChangeSchema)
def campaigns_resume(campaign_id: str) -> Any:
    """Send the rest of a paused campaign's invitations."""
    return _change(campaign_id, resume_campaign)


@blp.route("/campaigns/<campaign_id>/cancel", methods=["POST"])
@require_role(Role.MANAGER)
@blp.response(200, ChangeSchema)
def campaigns_cancel(campaign_id: str) -> Any:
    """Send no more invitations or reminders, for good; answers given are kept."""
    return _change(campaign_id, cancel_campaign)


def _change(campaign_id: str, action: Callable[..., Campaign]) -> dict[str, Any]:
    rt = runtime()
    with _campaign_errors(), write_session() as session:
        before = find_campaign(session, campaign_id).status
        campaign = action(session, campaign_id, actor=current_actor())
        counts = progress(session, campaign, utc_now())
    # Once committed: the fan-out for a running campaign, the end of reminders for a cancel.
    CampaignJobs(rt.queue).after_change(campaign)
    return {"campaign": campaign, "progress": counts, "changed": campaign.status is not before}


def _load(raw: Any, location: str) -> dict[str, Any]:
    """The request's fields, checked; a 422 naming each field that is wrong."""
    if not isinstance(raw, dict):
        _refuse("send the campaign as a JSON object or a multipart form")
    try:
        data: dict[str, Any] = NewCampaignSchema().load(raw)
    except ma.ValidationError as exc:
        abort(422, errors={location: exc.messages})
    return data


def _refuse(message: str) -> NoReturn:
    abort(422, message=message)
    raise AssertionError("abort returned")  # abort always raises; this is for the type checker


def _report(report: ImportReport) -> dict[str, Any]:
    return {
        "accepted": report.accepted,
        "duplicates": report.duplicates,
        "opted_out": report.opted_out,
        "invalid_count": report.invalid_count,
        "invalid": [{"row_number": r.row_number, "reason": r.reason} for r in report.invalid],
    }


@contextmanager
def _campaign_errors() -> Iterator[None]:
    """A campaign that cannot be found, made or changed: a JSON error saying why."""
    try:
        yield
    except CampaignError as exc:
        abort(exc.status, message=str(exc))
