"""The staff API under /api/v1, called as a script calls it: bearer tokens, JSON in and out.

``ROUTES`` lists every /api/v1 route with the least role that may call it; a route missing from
the table fails ``test_every_route_is_guarded_as_the_table_says``, so a new route cannot ship
without someone deciding who may call it.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate
from sqlalchemy import select

from gateway.core.runtime import Runtime
from gateway.enumerators.models import EnumeratorStatus
from gateway.messaging.models import Message, MessageStatus
from gateway.staff.models import ApiToken, AuditEvent, Role
from gateway.staff.tokens import create_token, revoke_token
from tests.enumerators.test_enumerators import (
    ENUMERATOR,
    ENUMERATOR_MASKED,
    register,
    the_enumerator,
)

# (method, rule) -> (least role, or None for public; status an allowed caller gets when the
# walk calls it with an empty JSON body and placeholder path arguments).
ROUTES: dict[tuple[str, str], tuple[Role | None, int]] = {
    ("GET", "/api/v1/openapi.json"): (None, 200),
    ("GET", "/api/v1/me"): (Role.VIEWER, 200),
    ("GET", "/api/v1/users"): (Role.ADMIN, 200),
    ("POST", "/api/v1/users"): (Role.ADMIN, 422),
    ("GET", "/api/v1/tokens"): (Role.ADMIN, 200),
    ("POST", "/api/v1/tokens"): (Role.ADMIN, 422),
    ("POST", "/api/v1/tokens/<token_id>/revoke"): (Role.ADMIN, 404),
    ("GET", "/api/v1/audit"): (Role.ADMIN, 200),
    ("GET", "/api/v1/enumerators"): (Role.MANAGER, 200),
    ("POST", "/api/v1/enumerators/<ident>/approve"): (Role.MANAGER, 404),
    ("POST", "/api/v1/enumerators/<ident>/reject"): (Role.MANAGER, 404),
    ("POST", "/api/v1/enumerators/<ident>/revoke"): (Role.MANAGER, 404),
    ("GET", "/api/v1/campaigns"): (Role.VIEWER, 200),
    ("POST", "/api/v1/campaigns"): (Role.MANAGER, 422),
    ("GET", "/api/v1/campaigns/<campaign_id>"): (Role.VIEWER, 404),
    ("POST", "/api/v1/campaigns/<campaign_id>/start"): (Role.MANAGER, 404),
    ("POST", "/api/v1/campaigns/<campaign_id>/pause"): (Role.MANAGER, 404),
    ("POST", "/api/v1/campaigns/<campaign_id>/resume"): (Role.MANAGER, 404),
    ("POST", "/api/v1/campaigns/<campaign_id>/cancel"): (Role.MANAGER, 404),
    ("POST", "/api/v1/campaigns/<campaign_id>/imports"): (Role.MANAGER, 404),
    ("GET", "/api/v1/campaigns/<campaign_id>/imports/<import_id>"): (Role.VIEWER, 404),
    ("GET", "/api/v1/flows/<flow_id>/submissions"): (Role.VIEWER, 404),
    ("GET", "/api/v1/campaigns/<campaign_id>/submissions"): (Role.VIEWER, 404),
    ("GET", "/api/v1/flows/<flow_id>/report"): (Role.VIEWER, 404),
    ("GET", "/api/v1/flows/<flow_id>/export.csv"): (Role.VIEWER, 404),
    ("GET", "/api/v1/flows/<flow_id>/export.xlsx"): (Role.VIEWER, 404),
    ("GET", "/api/v1/flows/<flow_id>/export.hxl"): (Role.VIEWER, 404),
}
PLACEHOLDER = "00000000-0000-4000-8000-000000000000"
CALLERS = ("none", "revoked", *(role.value for role in Role))


# -- helpers --------------------------------------------------------------------------------


@pytest.fixture
def secrets_by_caller(runtime: Runtime) -> dict[str, str]:
    """A live token per role, named after it, and a revoked admin token."""
    made: dict[str, str] = {}
    with runtime.sessions.begin() as session:
        for role in Role:
            made[role.value] = create_token(session, name=role.value, role=role, actor="cli").secret
        revoked = create_token(session, name="old", role=Role.ADMIN, actor="cli")
        revoke_token(session, revoked.token.id, actor="cli")
        made["revoked"] = revoked.secret
    return made


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def call(
    client: FlaskClient, method: str, path: str, secret: str | None = None, **kwargs: Any
) -> Any:
    headers = bearer(secret) if secret else {}
    return client.open(path, method=method, headers=headers, **kwargs)


def api_rules(app: Flask) -> set[tuple[str, str]]:
    return {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/")
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }


def assert_json_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body: dict[str, Any] = response.get_json()
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["message"], str) and body["message"]
    return body


def audit_events(runtime: Runtime) -> list[AuditEvent]:
    with runtime.sessions() as session:
        return list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))


# -- every route, every caller --------------------------------------------------------------


def test_every_route_is_in_the_table(app: Flask) -> None:
    routes = api_rules(app)
    unlisted = sorted(routes - ROUTES.keys())
    assert not unlisted, (
        f"add these routes to ROUTES, with the least role that may call them: {unlisted}"
    )
    gone = sorted(ROUTES.keys() - routes)
    assert not gone, f"these routes in ROUTES no longer exist: {gone}"


def test_every_route_is_guarded_as_the_table_says(
    app: Flask, client: FlaskClient, secrets_by_caller: dict[str, str]
) -> None:
    for (method, rule), (least, allowed_status) in sorted(ROUTES.items(), key=str):
        path = re.sub(r"<[^>]+>", PLACEHOLDER, rule)
        for caller in CALLERS:
            response = call(client, method, path, secrets_by_caller.get(caller), json={})
            where = f"{method} {rule} as {caller}"
            if least is None:
                expected = allowed_status
            elif caller in ("none", "revoked"):
                expected = 401
            elif Role(caller).includes(least):
                expected = allowed_status
            else:
                expected = 403
            assert response.status_code == expected, (where, response.get_data(as_text=True))
            if expected >= 400:
                assert_json_error(response, expected)
            if expected == 401:
                assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_the_openapi_document_is_valid_and_lists_every_route(
    app: Flask, client: FlaskClient
) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    spec = response.get_json()
    validate(spec)

    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token from an admin",
    }
    documented = {
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        for method in operations
        if method != "parameters"
    }
    expected = {
        (method, re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule))
        for (method, rule), (least, _) in ROUTES.items()
        if rule != "/api/v1/openapi.json"
    }
    assert documented == expected
    for (method, rule), (least, _) in ROUTES.items():
        if least is None:
            continue
        operation = spec["paths"][re.sub(r"<(\w+)>", r"{\1}", rule)][method.lower()]
        assert operation["security"] == [{"bearerAuth": []}]
        assert {"401", "403"} <= operation["responses"].keys()
        assert str(least) in operation["responses"]["403"]["description"]
    # No documentation UI: it would load its scripts from a CDN.
    assert client.get("/api/v1/swagger-ui").status_code == 404


# -- tokens ---------------------------------------------------------------------------------


def test_a_token_made_through_the_api_works_until_it_is_revoked(
    client: FlaskClient, runtime: Runtime, secrets_by_caller: dict[str, str]
) -> None:
    admin = secrets_by_caller["admin"]
    made = call(client, "POST", "/api/v1/tokens", admin, json={"name": "nightly", "role": "viewer"})
    assert made.status_code == 201, made.get_data(as_text=True)
    issued = made.get_json()
    assert issued["role"] == "viewer" and issued["created_by"] == "token:admin"
    secret = issued["secret"]
    assert len(secret) >= 43

    me = call(client, "GET", "/api/v1/me", secret)
    assert me.get_json() == {"kind": "token", "name": "nightly", "role": "viewer"}
    listed = call(client, "GET", "/api/v1/tokens", admin).get_json()
    nightly = next(token for token in listed if token["name"] == "nightly")
    assert nightly["last_used_at"] is not None and nightly["revoked_at"] is None
    assert secret not in json.dumps(listed)
    assert all("secret" not in token and "token_hash" not in token for token in listed)

    revoked = call(client, "POST", f"/api/v1/tokens/{issued['id']}/revoke", admin)
    assert revoked.status_code == 200 and revoked.get_json()["revoked_at"] is not None
    refused = assert_json_error(call(client, "GET", "/api/v1/me", secret), 401)
    assert "revoked" in refused["message"]
    again = call(client, "POST", f"/api/v1/tokens/{issued['id']}/revoke", admin)
    assert again.status_code == 200

    actions = [(e.actor, e.action, e.object_id) for e in audit_events(runtime)]
    assert ("token:admin", "token.create", issued["id"]) in actions
    assert actions.count(("token:admin", "token.revoke", issued["id"])) == 1


def test_a_secret_is_stored_only_as_its_hash(
    client: FlaskClient, runtime: Runtime, secrets_by_caller: dict[str, str]
) -> None:
    with runtime.sessions() as session:
        rows = list(session.scalars(select(ApiToken)))
    stored = json.dumps([[str(getattr(row, c)) for c in ("token_hash", "name")] for row in rows])
    for secret in secrets_by_caller.values():
        assert secret not in stored


def test_bad_or_missing_credentials_are_refused_with_a_hint(
    client: FlaskClient, secrets_by_caller: dict[str, str]
) -> None:
    missing = assert_json_error(client.get("/api/v1/me"), 401)
    assert "Authorization: Bearer" in missing["message"]
    basic = client.get("/api/v1/me", headers={"Authorization": "Basic YWxpY2U6cHc="})
    assert_json_error(basic, 401)
    unknown = assert_json_error(call(client, "GET", "/api/v1/me", "not-a-token"), 401)
    assert "not valid" in unknown["message"]
    low = assert_json_error(call(client, "GET", "/api/v1/users", secrets_by_caller["manager"]), 403)
    assert low["message"] == ("this needs the admin role or above; the token 'manager' is manager")


# -- users ----------------------------------------------------------------------------------


def test_an_admin_adds_a_user_and_the_password_never_comes_back(
    client: FlaskClient, runtime: Runtime, secrets_by_caller: dict[str, str]
) -> None:
    admin = secrets_by_caller["admin"]
    body = {"username": "Awa.Traore", "password": "correct horse battery", "role": "manager"}
    made = call(client, "POST", "/api/v1/users", admin, json=body)
    assert made.status_code == 201, made.get_data(as_text=True)
    user = made.get_json()
    assert user["username"] == "awa.traore" and user["role"] == "manager" and user["active"]
    assert "password" not in json.dumps(user)

    duplicate = call(
        client, "POST", "/api/v1/users", admin, json={**body, "username": "awa.traore"}
    )
    assert "is taken" in assert_json_error(duplicate, 409)["message"]
    listed = call(client, "GET", "/api/v1/users", admin).get_json()
    assert [u["username"] for u in listed] == ["awa.traore"]
    assert "correct horse" not in json.dumps(listed) and "argon2" not in json.dumps(listed)
    (event,) = [e for e in audit_events(runtime) if e.action == "user.create"]
    assert (event.actor, event.object_id) == ("token:admin", user["id"])


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"username": "ab", "password": "x" * 12, "role": "boss"}, "role", "Must be one of"),
        ({"username": "ab", "password": "short", "role": "viewer"}, "password", "Length"),
        ({"username": "ab", "password": "x" * 12}, "role", "Missing data"),
        (
            {"username": "ab", "password": "x" * 12, "role": "viewer", "is_admin": True},
            "is_admin",
            "Unknown field",
        ),
    ],
)
def test_a_bad_body_is_a_422_naming_the_field(
    client: FlaskClient,
    secrets_by_caller: dict[str, str],
    body: dict[str, Any],
    field: str,
    words: str,
) -> None:
    response = call(client, "POST", "/api/v1/users", secrets_by_caller["admin"], json=body)
    error = assert_json_error(response, 422)
    assert f"json.{field}: {words}" in error["message"]
    assert words in error["errors"]["json"][field][0]


def test_malformed_json_unknown_routes_and_wrong_methods_are_json_too(
    client: FlaskClient, secrets_by_caller: dict[str, str]
) -> None:
    admin = secrets_by_caller["admin"]
    bad = call(
        client, "POST", "/api/v1/tokens", admin, data="{nope", content_type="application/json"
    )
    assert "Invalid JSON" in assert_json_error(bad, 400)["message"]
    nowhere = assert_json_error(client.get("/api/v1/campaigns-of-old"), 404)
    assert "/api/v1/openapi.json" in nowhere["message"]
    wrong = client.delete("/api/v1/me")
    assert "allowed: GET" in assert_json_error(wrong, 405)["message"]
    assert "GET" in wrong.headers["Allow"]
    bad_filter = call(client, "GET", "/api/v1/enumerators?status=gone", admin)
    assert "query.status" in assert_json_error(bad_filter, 422)["message"]
    # AT still gets a USSD screen, never JSON, for a request the gateway refuses.
    ussd = client.get("/ussd")
    assert ussd.status_code == 405 and ussd.get_data(as_text=True).startswith("END ")


# -- enumerators ----------------------------------------------------------------------------


def test_a_manager_approves_an_enumerator_who_gets_the_sms(
    client: FlaskClient,
    runtime: Runtime,
    run_jobs: Callable[..., int],
    outbox_stream: io.StringIO,
    secrets_by_caller: dict[str, str],
) -> None:
    manager = secrets_by_caller["manager"]
    register(runtime, run_jobs)
    enumerator = the_enumerator(runtime)

    listed = call(client, "GET", "/api/v1/enumerators?status=pending", manager)
    assert listed.status_code == 200
    (row,) = listed.get_json()
    assert (row["id"], row["status"], row["phone_masked"]) == (
        enumerator.id,
        "pending",
        ENUMERATOR_MASKED,
    )
    assert ENUMERATOR[4:] not in listed.get_data(as_text=True)
    viewer = call(
        client, "POST", f"/api/v1/enumerators/{enumerator.id}/approve", secrets_by_caller["viewer"]
    )
    assert_json_error(viewer, 403)

    approved = call(client, "POST", f"/api/v1/enumerators/{enumerator.id[:8]}/approve", manager)
    assert approved.status_code == 200, approved.get_data(as_text=True)
    decision = approved.get_json()
    assert decision["changed"] is True and decision["sms_queued"] is True
    code = decision["enumerator"]["code"]
    assert decision["enumerator"]["status"] == "approved" and code.startswith("ENQ-")
    assert runtime.store.enumerator_code(enumerator.respondent_id) == code

    run_jobs()
    with runtime.sessions() as session:
        (sms,) = session.scalars(select(Message).where(Message.kind == "enumerator_approved"))
    assert sms.status is MessageStatus.RECORDED
    assert f"SMS to {ENUMERATOR_MASKED}: OIM/DNDS" in outbox_stream.getvalue()
    assert code in outbox_stream.getvalue()

    (event,) = [e for e in audit_events(runtime) if e.action.startswith("enumerator.")]
    assert (event.actor, event.action, event.object_type, event.object_id) == (
        "token:manager",
        "enumerator.approve",
        "enumerator",
        enumerator.id,
    )
    assert event.detail == f"pending -> approved, code {code}"

    # Approving again changes nothing, sends nothing, audits nothing.
    again = call(client, "POST", f"/api/v1/enumerators/{code}/approve", manager).get_json()
    assert again["changed"] is False and again["sms_queued"] is False
    run_jobs()
    with runtime.sessions() as session:
        assert len(list(session.scalars(select(Message)))) == 1
    assert len([e for e in audit_events(runtime) if e.action.startswith("enumerator.")]) == 1


def test_enumerator_decisions_that_cannot_be_made_are_json_errors(
    client: FlaskClient,
    runtime: Runtime,
    run_jobs: Callable[..., int],
    secrets_by_caller: dict[str, str],
) -> None:
    manager = secrets_by_caller["manager"]
    register(runtime, run_jobs)
    enumerator_id = the_enumerator(runtime).id

    unknown = call(client, "POST", "/api/v1/enumerators/ENQ-0000/approve", manager)
    assert "no enumerator" in assert_json_error(unknown, 404)["message"]
    pending = call(client, "POST", f"/api/v1/enumerators/{enumerator_id}/revoke", manager)
    assert "(use reject)" in assert_json_error(pending, 409)["message"]

    call(client, "POST", f"/api/v1/enumerators/{enumerator_id}/approve", manager)
    approved = call(client, "POST", f"/api/v1/enumerators/{enumerator_id}/reject", manager)
    assert "(use revoke)" in assert_json_error(approved, 409)["message"]

    revoked = call(client, "POST", f"/api/v1/enumerators/{enumerator_id}/revoke", manager)
    assert revoked.status_code == 200 and revoked.get_json()["changed"] is True
    assert the_enumerator(runtime).status is EnumeratorStatus.REVOKED
    assert runtime.store.enumerator_code(the_enumerator(runtime).respondent_id) is None
    actions = [e.action for e in audit_events(runtime) if e.action.startswith("enumerator.")]
    assert actions == ["enumerator.approve", "enumerator.revoke"]


# -- audit log ------------------------------------------------------------------------------


def test_the_audit_log_is_paginated_newest_first_and_filterable(
    client: FlaskClient, secrets_by_caller: dict[str, str]
) -> None:
    admin = secrets_by_caller["admin"]
    for n in range(3):
        call(client, "POST", "/api/v1/tokens", admin, json={"name": f"t{n}", "role": "viewer"})

    first = call(client, "GET", "/api/v1/audit?page_size=2", admin)
    assert first.status_code == 200
    pagination = json.loads(first.headers["X-Pagination"])
    # 4 tokens made by the fixture, 1 revoked by it, 3 made here.
    assert pagination["total"] == 8 and pagination["total_pages"] == 4
    events = first.get_json()
    assert [e["detail"] for e in events] == ["name=t2 role=viewer", "name=t1 role=viewer"]
    assert events[0]["id"] > events[1]["id"]

    mine = call(client, "GET", "/api/v1/audit?actor=token:admin&action=token.create", admin)
    assert [e["detail"] for e in mine.get_json()] == [f"name=t{n} role=viewer" for n in (2, 1, 0)]
    too_big = call(client, "GET", "/api/v1/audit?page_size=5000", admin)
    assert "page_size" in assert_json_error(too_big, 422)["message"]
