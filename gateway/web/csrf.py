"""Cross-site request forgery protection for the staff pages: a per-session token.

Every form of the dashboard carries the session's token in a hidden field, and every POST to a
protected blueprint must send it back; a forged form from another site cannot read it. The
token lives in Flask's signed session cookie, so any web process checks it without shared state.
"""

from __future__ import annotations

import hmac
import secrets

from flask import Blueprint, abort, request, session
from markupsafe import Markup

FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
SESSION_KEY = "_csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def token() -> str:
    """The session's token, made on first use."""
    value = session.get(SESSION_KEY)
    if not isinstance(value, str) or not value:
        value = secrets.token_urlsafe(32)
        session[SESSION_KEY] = value
    return value


def renew() -> str:
    """A fresh token, as at login: a token seen before signing in is of no use after."""
    session.pop(SESSION_KEY, None)
    return token()


def hidden_field() -> Markup:
    """The hidden form field templates put in every POST form."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(FIELD, token())


def check() -> None:
    """Refuse (400) an unsafe request whose token is missing or not the session's."""
    if request.method in SAFE_METHODS:
        return
    expected = session.get(SESSION_KEY)
    sent = request.form.get(FIELD) or request.headers.get(HEADER) or ""
    # compare_digest: the time taken must not say how much of a guess was right.
    if not isinstance(expected, str) or not expected or not hmac.compare_digest(sent, expected):
        abort(400, description="csrf")


def protect(bp: Blueprint) -> None:
    """Check the token on every unsafe request to ``bp``; give its templates ``csrf_field()``
    (forms) and ``csrf_token()`` (for scripts, which send it in the X-CSRF-Token header)."""
    bp.before_request(check)
    bp.context_processor(lambda: {"csrf_field": hidden_field, "csrf_token": token})
