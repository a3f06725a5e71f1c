"""The Flask application factory."""

from __future__ import annotations

import logging

import redis
from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from gateway.core.logs import configure_logging
from gateway.core.runtime import Runtime
from gateway.core.settings import Settings
from gateway.web import health
from gateway.web.api import campaigns as api_campaigns
from gateway.web.api import results as api_results
from gateway.web.api import staff as api_staff
from gateway.web.api.base import api_error_response, is_api_request, register_api
from gateway.web.cookie_session import LazyCookieSessionInterface
from gateway.web.dashboard.register import register_dashboard
from gateway.web.input_guard import install_input_guard
from gateway.web.request_ids import install_request_ids
from gateway.web.runtime import install_runtime
from gateway.web.security_headers import install_security_headers
from gateway.web.unavailable import unavailable_response
from gateway.web.webhooks import delivery as delivery_reports
from gateway.web.webhooks import sms as sms_webhooks
from gateway.web.webhooks import ussd as webhooks
from handlers.screens import end
from handlers.ussd_request import UNAVAILABLE

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, client: redis.Redis | None = None) -> Flask:
    """Build the web app: webhooks, health check, and error pages that never leak."""
    settings = settings if settings is not None else Settings.from_env()
    configure_logging(settings.log_level, settings.log_format)
    app = Flask(__name__)
    app.config.update(
        # Signs the session cookie and its CSRF token; the pseudonyms have a key of their own.
        SECRET_KEY=settings.session_key,
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        MAX_FORM_MEMORY_SIZE=settings.max_request_bytes,
    )
    app.session_interface = LazyCookieSessionInterface()
    install_request_ids(app)
    rt = Runtime.build(settings, client=client)
    install_runtime(app, rt)
    # A flow published since this process started is used without restarting it.
    app.before_request(rt.refresh_flows)
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(sms_webhooks.bp)
    app.register_blueprint(delivery_reports.bp)
    app.register_blueprint(health.bp)
    # The staff API under /api/v1: each feature passes its flask-smorest blueprints here.
    register_api(app, *api_staff.BLUEPRINTS, *api_results.BLUEPRINTS, *api_campaigns.BLUEPRINTS)
    # The staff dashboard (/dashboard) and the phone simulator (/simulator): HTML pages.
    register_dashboard(app)
    install_security_headers(app, production=settings.is_production)
    install_input_guard(app)
    # Imported here, in the process that serves: prometheus-client reads where to count (one
    # process, or gunicorn's workers' shared folder) when it is first imported.
    from gateway.web.metrics import install_metrics

    install_metrics(app)
    if settings.trusted_proxies:
        # Behind N reverse proxies, the client's address is in X-Forwarded-For: callback
        # networks and sign-in limits must see the caller, not the proxy.
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
    return app


def _is_ussd() -> bool:
    return request.path.rstrip("/") == "/ussd"


def _http_error(exc: HTTPException) -> Response:
    """4xx and friends: a USSD screen for AT, JSON for everyone else."""
    status = exc.code or 400
    if _is_ussd():
        return Response(end(UNAVAILABLE["fr"]), status=status, mimetype="text/plain")
    if is_api_request():
        return api_error_response(exc)
    response = jsonify(error=exc.name, message=exc.description)
    response.status_code = status
    return response


def _unexpected_error(exc: Exception) -> Response:
    """A bug or an outage: log it for operators; callers see a readable answer, never a trace."""
    return unavailable_response(exc)
