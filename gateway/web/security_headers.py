"""Security headers on every response.

The dashboard has no inline script or style, so the policy allows only this server's own
files; pages cannot be framed (clickjacking), types are not sniffed, no referrer leaves, and
pages holding results are not cached by browsers or proxies.
"""

from __future__ import annotations

from flask import Flask, Response, request

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)
_PRIVATE_PREFIXES = ("/dashboard", "/api/", "/simulator")


def install_security_headers(app: Flask, *, production: bool) -> None:
    """Add the headers to every response of ``app``."""

    @app.after_request
    def add_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "no-referrer")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if request.path.startswith(_PRIVATE_PREFIXES) and "Cache-Control" not in headers:
            headers["Cache-Control"] = "no-store"
        if production:
            # Behind TLS in production: browsers must never fall back to plain HTTP.
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response
