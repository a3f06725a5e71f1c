"""Staff for dashboard tests: accounts made as the CLI makes them, signing in by form, and what
every page test checks."""

from __future__ import annotations

import re
from collections.abc import Callable
from html import unescape
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from gateway.core.runtime import Runtime
from gateway.staff.models import AuditEvent, Role
from gateway.staff.users import create_user
from tests.phone import FULL_SURVEY_RETURN, Phone

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
ROLES = {"viewer": Role.VIEWER, "manager": Role.MANAGER, "admin": Role.ADMIN}
MAX_PAGE_BYTES = 30 * 1024
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)


def make_staff(runtime: Runtime) -> None:
    """One account per role, named after it (``viewer``, ``manager``, ``admin``)."""
    with runtime.sessions.begin() as session:
        for name, role in ROLES.items():
            create_user(
                session,
                username=name,
                password=PASSWORD,
                role=role,
                actor="cli",
                hasher=runtime.password_hasher,
            )


def csrf_token(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = CSRF.search(html)
    assert found is not None, "no CSRF field on the page"
    return found.group(1)


def sign_in(client: Any, username: str, password: str = PASSWORD) -> Any:
    """Sign in through the form as a browser does; returns the response to the POST."""
    page = client.get("/dashboard/login").get_data(as_text=True)
    return client.post(
        "/dashboard/login",
        data={"username": username, "password": password, "csrf_token": csrf_token(page)},
    )


def audit_actions(runtime: Runtime) -> list[tuple[str, str]]:
    """(actor, action) of every audit event, oldest first."""
    with runtime.sessions() as session:
        return [(e.actor, e.action) for e in session.scalars(select(AuditEvent))]


def text_of(response: TestResponse) -> str:
    """The page's text, entities read (Jinja writes ' as &#39;)."""
    return unescape(response.get_data(as_text=True))


def assert_light_page(html: str) -> None:
    """Small enough for a slow link, and nothing a strict CSP would block."""
    assert len(html.encode()) < MAX_PAGE_BYTES
    assert not INLINE_SCRIPT.search(html), "inline <script> on the page"
    assert not EVENT_HANDLER.search(html), "inline event handler on the page"


def complete_surveys(client: FlaskClient, run_jobs: Callable[..., int], count: int) -> None:
    """``count`` households answer the USSD survey to the end; the workers store them."""
    for i in range(count):
        phone = Phone(client, number=f"+2237612{i:04d}")
        phone.dial()
        screens = phone.answer_all(FULL_SURVEY_RETURN)
        assert screens[-1].startswith("END ")
    run_jobs()


def page_of(client: FlaskClient) -> str:
    """A signed-in page, for its CSRF token."""
    return client.get("/dashboard/results/").get_data(as_text=True)
