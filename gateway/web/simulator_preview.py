"""The phone simulator running a draft flow (``gateway.surveys.preview``): what a household would
see over USSD and SMS, with nothing stored as data.

A manager starts a preview from the Surveys page; the session then remembers the draft's id
and a token of its own, and the simulator's doors send this session's steps here instead of
to the AT callback views. Ending the preview (or publishing the draft) gives the phone back
to the published flows.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from flask import Response, jsonify, request, session

from flows import Flow
from gateway.surveys.drafts import load_draft
from gateway.surveys.preview import preview_replies, preview_respondent, preview_services
from gateway.web.runtime import runtime
from gateway.web.webhooks.ussd import plain
from handlers.phone import mask_phone
from handlers.sms import handle_sms
from handlers.sms_request import BadSms, parse_sms
from handlers.ussd import handle_ussd
from handlers.ussd_request import BadUssdRequest, parse_ussd

SESSION_PREVIEW = "sim_preview"


@dataclass(frozen=True, slots=True)
class Preview:
    """The draft this session's phone runs, and the pseudonym its answers live under."""

    flow: Flow
    respondent: str


def start_preview(flow_id: str) -> None:
    """Make this session's simulator run the draft of ``flow_id``, from its first question."""
    session[SESSION_PREVIEW] = {"flow": flow_id, "token": secrets.token_hex(8)}


def end_preview() -> None:
    """Give this session's simulator back to the published flows."""
    session.pop(SESSION_PREVIEW, None)


def active_preview(phone: str) -> Preview | None:
    """The preview this session runs on ``phone``, if any and its draft is still there."""
    held = session.get(SESSION_PREVIEW)
    if not isinstance(held, dict):
        return None
    rt = runtime()
    flow = load_draft(rt.settings.flows_folder, str(held.get("flow", "")))
    if flow is None:
        return None  # published or replaced since: the phone runs the published flows again
    pseudonym = rt.services.pseudonymise(phone)
    return Preview(flow, preview_respondent(pseudonym, str(held.get("token", ""))))


def preview_ussd(preview: Preview) -> Response:
    """One USSD step of the draft."""
    rt = runtime()
    parsed = parse_ussd(request.form, rt.settings.phone_region)
    if isinstance(parsed, BadUssdRequest):
        return plain(parsed.screen, 400 if parsed.problem.startswith("missing") else 200)
    services = preview_services(rt.services, rt.redis, preview.respondent)
    return plain(handle_ussd(parsed, preview.flow, services))


def preview_sms(preview: Preview) -> Response | tuple[Response, int]:
    """One SMS to the draft; its replies are read with ``preview_messages``."""
    rt = runtime()
    parsed = parse_sms(request.form, rt.settings.phone_region, rt.services.now())
    if isinstance(parsed, BadSms):
        return jsonify(error="Bad Request", message=parsed.problem), 400
    services = preview_services(rt.services, rt.redis, preview.respondent)
    handle_sms(parsed, {preview.flow.id: preview.flow}, preview.flow, services)
    return plain("OK")


def preview_messages(preview: Preview, phone: str, after: datetime | None) -> Response:
    """JSON: the draft's replies after ``after``, as the simulator's inbox answers."""
    replies = preview_replies(runtime().redis, preview.respondent, after)
    return jsonify(phone=mask_phone(phone), messages=replies)
