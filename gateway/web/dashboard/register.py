"""The staff dashboard's pages and the phone simulator, added to the app in one place.

Kept apart from ``gateway.web.dashboard.base``: the feature pages import its helpers, and base
imports none of them.
"""

from __future__ import annotations

from flask import Flask

from gateway.web import simulator as simulator_page
from gateway.web.dashboard import admin as dashboard_admin
from gateway.web.dashboard import campaigns as dashboard_campaigns
from gateway.web.dashboard import enumerators as dashboard_enumerators
from gateway.web.dashboard import field_reports as dashboard_reports
from gateway.web.dashboard import messages as dashboard_messages
from gateway.web.dashboard import results as dashboard_results
from gateway.web.dashboard import submissions as dashboard_submissions
from gateway.web.dashboard import surveys as dashboard_surveys
from gateway.web.dashboard.base import SESSION_LIFETIME, bp, template_globals
from gateway.web.formats import install_formats
from gateway.web.runtime import runtime_of


def register_dashboard(app: Flask) -> None:
    """Add the staff pages and the phone simulator to ``app``."""
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SECURE"] = runtime_of(app).settings.is_production
    app.config["PERMANENT_SESSION_LIFETIME"] = SESSION_LIFETIME
    app.context_processor(template_globals)
    install_formats(app)
    for blueprint in (
        bp,
        dashboard_campaigns.bp,
        dashboard_results.bp,
        dashboard_submissions.bp,
        dashboard_enumerators.bp,
        dashboard_reports.bp,
        dashboard_admin.bp,
        dashboard_messages.bp,
        dashboard_surveys.bp,
        simulator_page.bp,
    ):
        app.register_blueprint(blueprint)
