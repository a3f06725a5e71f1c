"""survey-gateway: the Flask app, its settings, storage, senders and command line."""

from __future__ import annotations

from gateway.web.app import create_app

__all__ = ["create_app"]
