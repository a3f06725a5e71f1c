"""The secret token on Africa's Talking callback URLs.

AT does not sign its callbacks, so the URLs configured in AT's dashboard carry a secret
(``https://host/ussd?token=...``). With ``GATEWAY_WEBHOOK_TOKEN`` set, a callback without the
right token is refused with 403 and changes nothing. Production refuses to start without it.
``GATEWAY_WEBHOOK_NETWORKS`` optionally limits callbacks to AT's source networks too.
"""

from __future__ import annotations

import hmac
import ipaddress

from flask import Blueprint, Response, jsonify, request

from gateway.web.runtime import runtime
from handlers.screens import end

REFUSED_SCREEN = "Service non autorise. / Service not authorised."


def require_webhook_token(bp: Blueprint, *, ussd: bool = False) -> None:
    """Check the token before every view of ``bp``; ``ussd`` answers with a USSD screen."""

    @bp.before_request
    def check_token() -> Response | tuple[Response, int] | None:
        settings = runtime().settings
        expected = settings.webhook_token
        allowed = not settings.webhook_networks or _from_networks(settings.webhook_networks)
        if allowed and not expected:
            return None
        given = request.args.get("token", "")
        # Constant time: the comparison must not tell an attacker how much of it was right.
        if allowed and hmac.compare_digest(given.encode(), (expected or "").encode()):
            return None
        if ussd:
            return Response(end(REFUSED_SCREEN), status=403, mimetype="text/plain")
        return jsonify(error="Forbidden", message="missing or wrong webhook token"), 403


def _from_networks(networks: tuple[str, ...]) -> bool:
    """Whether the caller's address is in one of ``networks`` (AT's, when configured)."""
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(n, strict=False) for n in networks)
