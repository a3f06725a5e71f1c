"""Every response carries the security headers; private pages are never cached."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from gateway.web.security_headers import CONTENT_SECURITY_POLICY
from tests.phone import Phone


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/healthz"),
        ("GET", "/dashboard/login"),
        ("GET", "/api/v1/openapi.json"),
        ("GET", "/api/v1/me"),
        ("GET", "/nowhere"),
        ("POST", "/sms/inbound"),
    ],
)
def test_headers_on_every_kind_of_response(client: FlaskClient, method: str, path: str) -> None:
    response = client.open(path, method=method)

    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "Strict-Transport-Security" not in response.headers  # development, plain HTTP


def test_private_pages_are_not_cached(client: FlaskClient) -> None:
    assert client.get("/dashboard/login").headers["Cache-Control"] == "no-store"
    assert client.get("/api/v1/me").headers["Cache-Control"] == "no-store"


def test_ussd_screens_get_the_headers_too(client: FlaskClient) -> None:
    phone = Phone(client)
    phone.dial()
    response = client.post("/ussd", data=phone.form(""))

    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.get_data(as_text=True).startswith("CON ")
