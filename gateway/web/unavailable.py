"""What a caller sees when a request fails: Redis or the database down, or a bug.

Never a 500 and never a trace. Each caller gets what it can act on:

- ``POST /ussd``: 200 with an ``END`` screen the person on the handset can read (AT shows an
  error tone for anything else);
- AT's other callbacks (``/sms/inbound``, ``/sms/delivery``, ``/ussd/events``): 503 with a
  short text, so AT sends them again later;
- ``/api/...``: JSON 503 ``{"error": "Service Unavailable", "message": ...}``;
- pages (the dashboard, the simulator): a small HTML 503 page.

An outage is logged as one line naming what is down; a bug with its trace, for operators.
Neither names the caller's phone number: only the method and the path are logged.
"""

from __future__ import annotations

import logging

from flask import Response, jsonify, request
from markupsafe import escape

from gateway.core.outage import REDIS_OUTAGE_ERRORS, is_database_outage
from gateway.web.api.base import is_api_request
from handlers.screens import end
from handlers.ussd_request import UNAVAILABLE

log = logging.getLogger(__name__)

# Long enough for a restart; AT and API clients may come back sooner.
RETRY_AFTER_S = 30
# AT's callbacks other than the USSD step: answered 503 so that AT tries them again.
_AT_CALLBACKS = ("/sms/inbound", "/sms/delivery", "/ussd/events")
RETRY_LATER = "Service temporarily unavailable; please retry later."
_PAGE = (
    "<!doctype html><html><head><meta charset=utf-8><title>{title}</title></head>"
    "<body><h1>{title}</h1><p>{message}</p></body></html>"
)


def at_retry_later(after_s: int) -> Response:
    """What AT's SMS and event callbacks get when they should come back: a 503 it retries."""
    response = Response(RETRY_LATER, status=503, mimetype="text/plain")
    response.headers["Retry-After"] = str(after_s)
    return response


def what_is_down(exc: BaseException) -> str | None:
    """``"Redis"`` or ``"the database"`` when ``exc`` means it cannot be reached, else None."""
    # BusyLoadingError (Redis reading its data after a restart) is a ConnectionError.
    if isinstance(exc, REDIS_OUTAGE_ERRORS):
        return "Redis"
    if is_database_outage(exc):
        return "the database"
    return None


def unavailable_response(exc: Exception) -> Response:
    """Log ``exc`` for operators and tell the caller, in its own terms, to come back later."""
    down = what_is_down(exc)
    if down is None:
        log.exception("unexpected error on %s %s", request.method, request.path)
    else:
        log.warning(
            "%s unreachable (%s): %s %s answered 'unavailable'",
            down,
            type(exc).__name__,
            request.method,
            request.path,
        )
    path = request.path.rstrip("/")
    if path == "/ussd":
        # The caller is on a handset mid-session: a plain END screen beats an AT error tone.
        return Response(end(UNAVAILABLE["fr"]), status=200, mimetype="text/plain")
    if path in _AT_CALLBACKS:
        return at_retry_later(RETRY_AFTER_S)
    if is_api_request():
        response = jsonify(error="Service Unavailable", message=RETRY_LATER)
        response.status_code = 503
    else:
        title = "503 Service Unavailable"
        page = _PAGE.format(title=escape(title), message=escape(RETRY_LATER))
        response = Response(page, status=503, mimetype="text/html")
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response
