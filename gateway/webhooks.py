"""Africa's Talking callbacks: USSD steps and USSD end-of-session notices.

Views only parse, call one handler and render: the conversation itself lives in ``handlers``.
No SQL write and no AT call happens here; workers do those.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, request

from gateway.runtime import Runtime
from handlers.phone import mask_phone, normalise_phone
from handlers.ussd import BadUssdRequest, handle_ussd, parse_ussd

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__)


def runtime() -> Runtime:
    """The runtime of the current app."""
    rt: Runtime = current_app.extensions["gateway"]
    return rt


def plain(text: str, status: int = 200) -> Response:
    """A text/plain response, as AT expects from a USSD callback."""
    return Response(text, status=status, mimetype="text/plain")


@bp.post("/ussd")
def ussd() -> Response:
    """One step of a USSD session."""
    rt = runtime()
    parsed = parse_ussd(request.form, rt.settings.phone_region)
    if isinstance(parsed, BadUssdRequest):
        log.warning("ussd request refused: %s", parsed.problem)
        return plain(parsed.screen, 400 if parsed.problem.startswith("missing") else 200)
    return plain(handle_ussd(parsed, rt.ussd_flow, rt.services))


@bp.post("/ussd/events")
def ussd_events() -> Response:
    """AT's end-of-session notice: acknowledged and logged (masked), nothing else yet."""
    rt = runtime()
    phone = normalise_phone(request.form.get("phoneNumber", ""), rt.settings.phone_region)
    log.info(
        "ussd session %s ended: status=%s phone=%s duration_ms=%s",
        request.form.get("sessionId", "?")[:64],
        request.form.get("status", "?")[:32],
        mask_phone(phone) if phone else "?",
        request.form.get("durationInMillis", "?")[:16],
    )
    return plain("OK")
