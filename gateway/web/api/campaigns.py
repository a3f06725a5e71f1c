"""Campaigns API: create a campaign with its audience, follow it, start, pause, resume, cancel.

Viewers read; managers change. Each change is one call to ``gateway.campaigns.services``, as
from the dashboard and ``survey-gateway campaign``: one transaction with its audit event, then
the workers are asked to act. A campaign is created with its audience, either as JSON
(``contacts``: a list of ``{"phone", "language"?, "region"?}``) or as a multipart form whose
``audience`` file is a CSV; more contacts are added the same way. The fields are checked at
once; the list is stored encrypted and imported by a worker (``gateway.campaigns.imports``):
the answer is 202 with the import to follow (``Location``), whatever the size of the list.
Numbers are never answered back: rows are named by number.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import marshmallow as ma
from flask import request, url_for
from flask_smorest import abort

from gateway.campaigns.definition import (
    CampaignError,
    CampaignSpec,
    find_campaign,
)
from gateway.campaigns.imports import find_import, invalid_rows, problem_text, rows_read
from gateway.campaigns.models import CampaignImport
from gateway.campaigns.progress import find_with_progress, listing, progress_now
from gateway.campaigns.services import (
    Action,
    Audience,
    Upload,
    add_contacts,
    change_state,
    create_with_audience,
    keep_import_going,
)
from gateway.campaigns.waves import end_of_day
from gateway.core.clock import utc_now
from gateway.core.runtime import Runtime
from gateway.staff.models import Role
from gateway.web.api.base import ApiBlueprint, read_session
from gateway.web.api.campaign_schemas import (
    LOCATION,
    MULTIPART_AUDIENCE,
    AcceptedSchema,
    CampaignDetailSchema,
    CampaignListItemSchema,
    ChangeSchema,
    ImportSchema,
    NewCampaignSchema,
    NewContactsSchema,
)
from gateway.web.auth import current_actor, require_role
from gateway.web.runtime import runtime

blp = ApiBlueprint("campaigns", __name__, description="Campaigns: surveys sent to a list")
BLUEPRINTS = (blp,)

# A CSV of 100,000 numbers is about 2 MB; JSON is read whole, so it is held to less.
MAX_CSV_BYTES = 20 * 1024 * 1024
MAX_JSON_BYTES = 5 * 1024 * 1024
FORM_MEMORY_BYTES = 256 * 1024
AUDIENCE_FIELD = "audience"


def _audience_body(json_schema: type[ma.Schema], form_schema: dict[str, Any]) -> dict[str, Any]:
    """The documented body of a request carrying a list: JSON, or a form with the CSV file."""
    content = {
        "application/json": {"schema": json_schema},
        "multipart/form-data": {"schema": form_schema},
    }
    return {"requestBody": {"required": True, "content": content}}


# -- views ----------------------------------------------------------------------------------


@blp.route("/campaigns", methods=["GET"])
@require_role(Role.VIEWER)
@blp.response(200, CampaignListItemSchema(many=True))
def campaigns_list() -> Any:
    """Every campaign, newest first, with its number of contacts and of invitations sent."""
    with read_session() as session:
        return listing(session, utc_now())


@blp.route("/campaigns", methods=["POST"])
@require_role(Role.MANAGER)
@blp.doc(
    **_audience_body(
        NewCampaignSchema,
        {**MULTIPART_AUDIENCE, "required": ["name", "flow", "channel", AUDIENCE_FIELD]},
    )
)
@blp.response(202, AcceptedSchema, headers=LOCATION)
def campaigns_create() -> Any:
    """Create a draft campaign; its list is imported by a worker: follow the import.

    The fields are checked at once (a 422 creates nothing), and so is the CSV's header row.
    Rows not taken are listed in the import's report once it is done.
    """
    rt = runtime()
    multipart = _allow_audience()
    if multipart:
        data = _load(NewCampaignSchema, request.form.to_dict(), "form")
    else:
        data = _load(NewCampaignSchema, request.get_json(silent=True), "json")
        if not data.get("contacts"):
            _refuse("the campaign needs its audience: 'contacts', a list of {phone}")
    audience = _audience(data)
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
        repeat_days=data.get("repeat_days"),
        repeat_waves=data.get("repeat_waves"),
        repeat_until=end_of_day(data["repeat_until"]) if data.get("repeat_until") else None,
    )
    with _campaign_errors():
        created = create_with_audience(rt, current_actor(), spec, audience)
    return _accepted(rt, created)


@blp.route("/campaigns/<campaign_id>/imports", methods=["POST"])
@require_role(Role.MANAGER)
@blp.doc(**_audience_body(NewContactsSchema, MULTIPART_AUDIENCE))
@blp.response(202, AcceptedSchema, headers=LOCATION)
def campaigns_import(campaign_id: str) -> Any:
    """Add contacts to a campaign (numbers already in it count as duplicates): follow the import.

    A running campaign invites them in turn; a cancelled or completed one takes none (409).
    """
    rt = runtime()
    with _campaign_errors(), read_session() as session:
        find_campaign(session, campaign_id)  # an unknown campaign is a 404, whatever the body
    if _allow_audience():
        data: dict[str, Any] = {}
    else:
        data = _load(NewContactsSchema, request.get_json(silent=True), "json")
    audience = _audience(data)
    with _campaign_errors():
        added = add_contacts(rt, current_actor(), campaign_id, audience)
    return _accepted(rt, added)


@blp.route("/campaigns/<campaign_id>/imports/<import_id>", methods=["GET"])
@require_role(Role.VIEWER)
@blp.response(200, ImportSchema)
def campaigns_import_get(campaign_id: str, import_id: str) -> Any:
    """An import of the campaign's list: queued, running (rows read so far), done with its
    report, or failed with the reason."""
    rt = runtime()
    with _campaign_errors(), read_session() as session:
        campaign = find_campaign(session, campaign_id)
        found = find_import(session, campaign.id, import_id)
    keep_import_going(rt, found)
    return _import_view(rt, found)


@blp.route("/campaigns/<campaign_id>", methods=["GET"])
@require_role(Role.VIEWER)
@blp.response(200, CampaignDetailSchema)
def campaigns_get(campaign_id: str) -> Any:
    """A campaign (by id, or its first 6 characters or more) and its progress."""
    with _campaign_errors(), read_session() as session:
        campaign, counts = find_with_progress(session, campaign_id)
        return {"campaign": campaign, "progress": counts}


def _change(campaign_id: str, action: Action) -> dict[str, Any]:
    rt = runtime()
    with _campaign_errors():
        done = change_state(rt, current_actor(), campaign_id, action)
    with read_session() as session:
        counts = progress_now(session, done.campaign)
    return {"campaign": done.campaign, "progress": counts, "changed": done.changed}


# POST /campaigns/<campaign_id>/start (and pause, resume, cancel): views campaigns_start, ...
blp.action_routes(
    "/campaigns/<campaign_id>/{action}",
    Role.MANAGER,
    ChangeSchema,
    {
        "start": "Start sending invitations (from start_at on, within the daily window).",
        "pause": "Stop sending invitations until resumed; surveys under way go on.",
        "resume": "Send the rest of a paused campaign's invitations.",
        "cancel": "Send no more invitations or reminders, for good; answers given are kept.",
    },
    _change,  # type: ignore[arg-type]  # the actions are those of Action
)


def _allow_audience() -> bool:
    """Let this request carry a list; whether it is a multipart form."""
    multipart = request.mimetype == "multipart/form-data"
    # The app takes small bodies only; an audience is larger. Set before the body is read.
    request.max_content_length = MAX_CSV_BYTES if multipart else MAX_JSON_BYTES
    # Werkzeug's multipart parser reads 64 KiB at a time and holds each read to this limit.
    request.max_form_memory_size = FORM_MEMORY_BYTES
    return multipart


def _audience(data: dict[str, Any]) -> Audience:
    """The list sent: the form's CSV file, or the JSON contacts (already checked)."""
    if "contacts" in data:
        return Audience.of_contacts(data["contacts"])
    upload = request.files.get(AUDIENCE_FIELD)
    if upload is None or not upload.filename:
        _refuse(f"the form needs the list as a CSV file in '{AUDIENCE_FIELD}'")
    return Audience(upload.stream, "csv")


def _accepted(rt: Runtime, done: Upload) -> Any:
    """202: the import is queued, and where to follow it."""
    location = url_for(
        "campaigns.campaigns_import_get", campaign_id=done.campaign.id, import_id=done.import_.id
    )
    body = {"campaign": done.campaign, "import_": _import_view(rt, done.import_)}
    return body, 202, {"Location": location}


def _import_view(rt: Runtime, found: CampaignImport) -> dict[str, Any]:
    """An import as the API gives it: reasons in English, numbers masked."""
    return {
        "id": found.id,
        "campaign_id": found.campaign_id,
        "status": found.status,
        "created_by": found.created_by,
        "created_at": found.created_at,
        "started_at": found.started_at,
        "finished_at": found.finished_at,
        "rows_read": rows_read(rt, found),
        "accepted": found.accepted,
        "duplicates": found.duplicates,
        "opted_out": found.opted_out,
        "invalid_count": found.invalid_count,
        "invalid": [
            {"row_number": row, "reason": reason} for row, reason in invalid_rows(found, "en")
        ],
        "problem": problem_text(found, "en"),
    }


def _load(schema: type[ma.Schema], raw: Any, location: str) -> dict[str, Any]:
    """The request's fields, checked; a 422 naming each field that is wrong."""
    if not isinstance(raw, dict):
        _refuse("send the campaign as a JSON object or a multipart form")
    try:
        data: dict[str, Any] = schema().load(raw)
    except ma.ValidationError as exc:
        abort(422, errors={location: exc.messages})
    return data


def _refuse(message: str) -> NoReturn:
    abort(422, message=message)
    raise AssertionError("abort returned")  # abort always raises; this is for the type checker


@contextmanager
def _campaign_errors() -> Iterator[None]:
    """A campaign that cannot be found, made or changed: a JSON error saying why."""
    try:
        yield
    except CampaignError as exc:
        abort(exc.status, message=str(exc))
