"""The staff pages' signed cookie session, opened only for requests that bring the cookie.

Flask builds its signing serializer for every request, to find that there is no cookie to
read: on Africa's Talking's callbacks (a USSD step every few milliseconds under load), that
was a tenth of Flask's own work per step. A request without the cookie gets the same empty
session as before, without it; a request with one is read exactly as Flask reads it.
"""

from __future__ import annotations

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface


class LazyCookieSessionInterface(SecureCookieSessionInterface):
    """Flask's cookie session, skipping the serializer when there is nothing to read."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)
