"""Africa's Talking callbacks: USSD steps and USSD end-of-session notices.

Views only parse, call one handler and render: the conversation itself lives in ``handlers``.
No SQL write and no AT call happens here; workers do those.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, request

from gateway.web.runtime import runtime
from gateway.web.webhooks.token import require_webhook_token
from handlers.phone import mask_phone, normalise_phone
from handlers.ports import OverLimit, RateLimit
from handlers.screens import end
from handlers.ussd import handle_ussd
from handlers.ussd_request import BadUssdRequest, parse_ussd

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__)

# Per number: a survey takes about ten screens in a few minutes; a phone (or a script using
# its number) that goes far beyond is flooding, not answering.
USSD_PER_MINUTE = 60
USSD_LIMIT = RateLimit("ussd", USSD_PER_MINUTE, 60)
TOO_MANY = "Trop de requetes. Reessayez dans quelques minutes. / Too many requests, try later."
require_webhook_token(bp, ussd=True)


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
    try:
        # The count goes with the lock, in the same round trip to Redis.
        return plain(handle_ussd(parsed, rt.ussd_flow, rt.services, USSD_LIMIT))
    except OverLimit:
        log.warning("ussd requests over the per-number limit: refused")
        return plain(end(TOO_MANY))


@bp.post("/ussd/events")
def ussd_events() -> Response:
    """AT's end-of-session notice: a survey cut short may go on by SMS."""
    rt = runtime()
    session_id = request.form.get("sessionId", "")[:128]
    status = request.form.get("status", "?")[:32]
    phone = normalise_phone(request.form.get("phoneNumber", ""), rt.settings.phone_region)
    log.info(
        "ussd session %s ended: status=%s phone=%s duration_ms=%s",
        session_id or "?",
        status,
        mask_phone(phone) if phone else "?",
        request.form.get("durationInMillis", "?")[:16],
    )
    session = rt.store.load_session(session_id) if session_id else None
    # Only a household's own dial: a household surveyed by an enumerator did not dial at all.
    own_dial = session is not None and session.household is None
    if status != "Success" and session is not None and own_dial and session.run_id:
        record = rt.store.load_run(session.run_id)
        if record is not None and record.state.is_active:
            rt.jobs.offer_sms(record.state.run_id)
    return plain("OK")
