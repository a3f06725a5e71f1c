"""Africa's Talking inbound SMS callback.

The request only parses, de-duplicates (AT retries callbacks), routes through the SMS handler
on Redis state, and enqueues: replies, database writes and erasures happen in workers.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify, request

from gateway.web.runtime import runtime
from gateway.web.webhooks.once import Take, not_taken, retry_later, take, taken
from gateway.web.webhooks.token import require_webhook_token
from gateway.web.webhooks.ussd import plain
from handlers.sms import handle_sms
from handlers.sms_request import BadSms, parse_sms

log = logging.getLogger(__name__)
bp = Blueprint("sms", __name__)
require_webhook_token(bp)

SEEN_FOR_S = 7 * 24 * 3600
# Per number, per minute and per day: enough for a survey and its keywords, not for a flood
# that would run up the SMS bill with replies.
SMS_LIMITS = ((20, 60), (200, 24 * 3600))
"""How long an AT message id is remembered: far longer than AT keeps retrying."""


@bp.post("/sms/inbound")
def inbound() -> Response | tuple[Response, int]:
    """One SMS from a phone."""
    rt = runtime()
    parsed = parse_sms(request.form, rt.settings.phone_region, rt.services.now())
    if isinstance(parsed, BadSms):
        if not parsed.problem.startswith("from is not"):
            log.warning("inbound SMS refused: %s", parsed.problem)
            return jsonify(error="Bad Request", message=parsed.problem), 400
        # A message AT delivered that no survey can answer (a network notice): take it, once.
        log.info("inbound SMS ignored: %s", parsed.problem)
        return plain("OK")
    respondent = rt.services.pseudonymise(parsed.phone)
    if any(
        rt.store.over_limit(respondent, f"sms{window}", limit, window)
        for limit, window in SMS_LIMITS
    ):
        # Taken (so AT does not retry) but not acted on: no reply, so no SMS cost either.
        log.warning("inbound SMS over the per-number limit: dropped")
        return plain("OK")
    seen_key = f"sg:smsin:{parsed.message_id}"
    mark = take(rt.redis, seen_key)
    if mark is Take.SEEN:
        return plain("OK")  # AT sending the same message again
    if mark is Take.BUSY:
        return retry_later()
    try:
        handle_sms(parsed, rt.flows, rt.ussd_flow, rt.services)
    except BaseException:
        # Not taken after all: AT's retry of this message must be handled, not skipped.
        not_taken(rt.redis, seen_key)
        raise
    taken(rt.redis, seen_key, SEEN_FOR_S)
    return plain("OK")
