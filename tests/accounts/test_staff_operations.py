"""Every staff operation, through every surface that offers it, leaves the same rows and the
same audit entries: only the actor tells the API, the dashboard and the command line apart.

The API is called with bearer tokens, the dashboard by a signed-in user posting its forms with
their CSRF token, the command line with ``CliRunner`` and only this test's settings. Each
surface acts on an object of its own (an enumerator, a user name, a token name) in the same
database; what differs by object only (its id, name or code) is written as a placeholder
before the outcomes are compared.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from gateway.cli.main import cli
from gateway.core.clock import utc_now
from gateway.core.redis_client import url_of
from gateway.core.runtime import Runtime
from gateway.core.settings import Settings
from gateway.enumerators.models import Enumerator
from gateway.enumerators.services import decide
from gateway.messaging.models import Message
from gateway.staff.models import ApiToken, AuditEvent, Role, User
from gateway.staff.tokens import create_token
from gateway.surveys.retention import PURGED
from tests.enumerators.test_enumerators import register
from tests.households import FORTY, add, campaign
from tests.phone import FULL_SURVEY_RETURN, Phone
from tests.staff import PASSWORD, csrf_token, make_staff, sign_in

# The actor each surface is audited as: the tokens and users below are named after roles.
ACTORS = {"api": "token:{role}", "dashboard": "user:{role}", "cli": "cli"}
ENUMERATORS = {"api": "+22365123471", "dashboard": "+22365123472", "cli": "+22365123473"}


@dataclass(frozen=True, slots=True)
class Surfaces:
    """One way in per surface, all on the test's database and Redis."""

    app: Flask
    runtime: Runtime
    settings: Settings
    secrets: dict[str, str]
    browsers: dict[str, FlaskClient]  # signed in before any audit mark: logins are audited

    def api(self, method: str, path: str, role: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.secrets[role]}"}
        return self.app.test_client().open(path, method=method, headers=headers, **kwargs)

    def cli(self, *args: str, stdin: str | None = None) -> Result:
        env: dict[str, str | None] = {
            name: None
            for name in os.environ
            if name.startswith(("GATEWAY_", "AT_")) or name in ("REDIS_URL", "DATABASE_URL")
        }
        env.update(
            {
                "GATEWAY_VAR_DIR": str(self.settings.var_dir),
                "DATABASE_URL": self.settings.database_url,
                "REDIS_URL": url_of(self.runtime.redis),
                "GATEWAY_PASSWORD_HASH_PROFILE": self.settings.password_hash_profile,
            }
        )
        return CliRunner().invoke(cli, list(args), input=stdin, env=env)

    def audit_after(self, mark: int) -> list[AuditEvent]:
        with self.runtime.sessions() as session:
            stmt = select(AuditEvent).where(AuditEvent.id > mark).order_by(AuditEvent.id)
            return list(session.scalars(stmt))

    def audit_mark(self) -> int:
        with self.runtime.sessions() as session:
            return session.scalar(select(func.max(AuditEvent.id))) or 0


@pytest.fixture
def surfaces(app: Flask, runtime: Runtime, settings: Settings) -> Surfaces:
    """A user and an API token per role, named after it; a browser signed in as each user."""
    make_staff(runtime)
    with runtime.sessions.begin() as session:
        secrets = {
            role.value: create_token(session, name=role.value, role=role, actor="cli").secret
            for role in Role
        }
    browsers = {role.value: app.test_client() for role in Role}
    for name, browser in browsers.items():
        assert sign_in(browser, name).status_code == 302
    return Surfaces(app, runtime, settings, secrets, browsers)


def entries(events: list[AuditEvent], **placeholders: str) -> list[tuple[str, ...]]:
    """(action, object type, object id, detail) of each event, object values as placeholders."""

    def general(text: str | None) -> str:
        text = text or ""
        for placeholder, value in placeholders.items():
            text = text.replace(value, f"<{placeholder}>")
        return text

    return [(e.action, e.object_type, general(e.object_id), general(e.detail)) for e in events]


def assert_same(outcomes: dict[str, Any]) -> None:
    """Every surface's outcome equals the first's."""
    (first, expected), *others = outcomes.items()
    for surface, outcome in others:
        assert outcome == expected, f"{surface} differs from {first}"


# -- enumerators ----------------------------------------------------------------------------


def decide_through(surfaces: Surfaces, surface: str, enumerator_id: str, decision: str) -> None:
    if surface == "api":
        path = f"/api/v1/enumerators/{enumerator_id}/{decision}"
        response = surfaces.api("POST", path, "manager")
        assert response.status_code == 200, response.get_data(as_text=True)
    elif surface == "dashboard":
        browser = surfaces.browsers["manager"]
        page = browser.get("/dashboard/enumerators/").get_data(as_text=True)
        form = {"csrf_token": csrf_token(page)}
        response = browser.post(f"/dashboard/enumerators/{enumerator_id}/{decision}", data=form)
        assert response.status_code == 302
    else:
        result = surfaces.cli("enumerators", decision, enumerator_id)
        assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("decision", "ways_in"),
    [
        ("approve", ("api", "dashboard", "cli")),
        ("reject", ("api", "dashboard", "cli")),
        # The dashboard only approves and rejects.
        ("revoke", ("api", "cli")),
    ],
)
def test_an_enumerator_decision_is_the_same_from_every_surface(
    surfaces: Surfaces,
    run_jobs: Callable[..., int],
    decision: str,
    ways_in: tuple[str, ...],
) -> None:
    runtime = surfaces.runtime
    outcomes = {}
    for surface in ways_in:
        register(runtime, run_jobs, number=ENUMERATORS[surface])
        with runtime.sessions() as session:
            pseudonym = runtime.services.pseudonymise(ENUMERATORS[surface])
            ident = session.scalars(
                select(Enumerator.id).where(Enumerator.respondent_id == pseudonym)
            ).one()
        if decision == "revoke":
            decide(runtime, "cli", ident, "approve")
        run_jobs()
        mark = surfaces.audit_mark()

        # Twice: deciding again what is already so changes, audits and sends nothing.
        decide_through(surfaces, surface, ident, decision)
        decide_through(surfaces, surface, ident, decision)
        run_jobs()

        with runtime.sessions() as session:
            enumerator = session.get_one(Enumerator, ident)
            sent = session.execute(
                select(Message.kind, Message.body).where(Message.respondent_id == pseudonym)
            ).all()
        code = enumerator.code or "no code"
        events = surfaces.audit_after(mark)
        assert {e.actor for e in events} == {ACTORS[surface].format(role="manager")}
        marker = runtime.store.enumerator_code(pseudonym)
        outcomes[surface] = {
            "status": enumerator.status,
            "decided": enumerator.decided_at is not None,
            "code": enumerator.code is not None,
            "marker": None if marker is None else marker == enumerator.code,
            "sms": [(kind, body.replace(code, "<code>")) for kind, body in sent],
            "audit": entries(events, id=ident, code=code),
        }
    assert_same(outcomes)
    expected_change = {
        "approve": "pending -> approved, code <code>",
        "reject": "pending -> rejected",
        "revoke": "approved -> revoked, code <code>",
    }[decision]
    assert outcomes[ways_in[0]]["audit"] == [
        (f"enumerator.{decision}", "enumerator", "<id>", expected_change)
    ]


def test_a_refused_decision_says_the_same_from_the_api_and_the_command_line(
    surfaces: Surfaces, run_jobs: Callable[..., int]
) -> None:
    register(surfaces.runtime, run_jobs, number=ENUMERATORS["api"])
    mark = surfaces.audit_mark()
    with surfaces.runtime.sessions() as session:
        ident = session.scalars(select(Enumerator.id)).one()

    api = surfaces.api("POST", f"/api/v1/enumerators/{ident}/revoke", "manager")
    cli_result = surfaces.cli("enumerators", "revoke", ident)
    unknown = surfaces.api("POST", "/api/v1/enumerators/ENQ-0000/approve", "manager")

    # The status the refusal carries: 409 for a status the decision cannot start from.
    assert api.status_code == 409
    assert cli_result.exit_code == 1
    message = api.get_json()["message"]
    assert message.endswith("only an approved enumerator can be revoked (use reject)")
    assert cli_result.output.strip() == f"Error: {message}"
    assert unknown.status_code == 404
    assert surfaces.audit_after(mark) == []


# -- users and tokens -----------------------------------------------------------------------


def create_user_through(surfaces: Surfaces, surface: str, username: str) -> str | None:
    """Add a manager named ``username``; the refusal's message, if refused."""
    if surface == "api":
        body = {"username": username, "password": PASSWORD, "role": "manager"}
        response = surfaces.api("POST", "/api/v1/users", "admin", json=body)
        return None if response.status_code == 201 else str(response.get_json()["message"])
    result = surfaces.cli(
        "users", "create", username, "--role", "manager", "--password-stdin", stdin=PASSWORD
    )
    return None if result.exit_code == 0 else result.output.strip().removeprefix("Error: ")


def test_adding_a_user_is_the_same_from_the_api_and_the_command_line(
    surfaces: Surfaces,
) -> None:
    outcomes = {}
    for surface in ("api", "cli"):
        username = f"awa.{surface}"
        mark = surfaces.audit_mark()

        assert create_user_through(surfaces, surface, username.upper()) is None
        refused = create_user_through(surfaces, surface, username)

        with surfaces.runtime.sessions() as session:
            user = session.scalars(select(User).where(User.username == username)).one()
        events = surfaces.audit_after(mark)
        assert {e.actor for e in events} == {ACTORS[surface].format(role="admin")}
        outcomes[surface] = {
            "user": (user.role, user.active, user.password_hash.startswith("$argon2id$")),
            "refused": (refused or "").replace(username, "<name>"),
            "audit": entries(events, id=user.id, name=username),
        }
    assert_same(outcomes)
    assert outcomes["api"]["refused"] == "the username '<name>' is taken"
    assert outcomes["api"]["audit"] == [
        ("user.create", "user", "<id>", "username=<name> role=manager")
    ]


def issue_and_revoke_through(surfaces: Surfaces, surface: str, name: str) -> str:
    """Make a viewer token named ``name`` and revoke it twice; its id."""
    if surface == "api":
        made = surfaces.api(
            "POST", "/api/v1/tokens", "admin", json={"name": name, "role": "viewer"}
        )
        assert made.status_code == 201, made.get_data(as_text=True)
        token_id = str(made.get_json()["id"])
        for _ in range(2):
            revoked = surfaces.api("POST", f"/api/v1/tokens/{token_id}/revoke", "admin")
            assert revoked.status_code == 200, revoked.get_data(as_text=True)
        return token_id
    made = surfaces.cli("tokens", "create", "--name", name, "--role", "viewer")
    assert made.exit_code == 0, made.output
    with surfaces.runtime.sessions() as session:
        token_id = session.scalars(select(ApiToken.id).where(ApiToken.name == name)).one()
    for _ in range(2):
        revoked = surfaces.cli("tokens", "revoke", token_id[:8])
        assert revoked.exit_code == 0, revoked.output
    return token_id


def test_a_token_is_issued_and_revoked_the_same_from_the_api_and_the_command_line(
    surfaces: Surfaces,
) -> None:
    outcomes = {}
    for surface in ("api", "cli"):
        name = f"nightly-{surface}"
        mark = surfaces.audit_mark()

        token_id = issue_and_revoke_through(surfaces, surface, name)

        with surfaces.runtime.sessions() as session:
            token = session.get_one(ApiToken, token_id)
        events = surfaces.audit_after(mark)
        actor = ACTORS[surface].format(role="admin")
        assert {e.actor for e in events} == {actor} and token.created_by == actor
        outcomes[surface] = {
            "token": (token.role, token.revoked_at is not None, token.last_used_at),
            "audit": entries(events, id=token_id, name=name),
        }
    assert_same(outcomes)
    assert outcomes["api"]["audit"] == [
        ("token.create", "api_token", "<id>", "name=<name> role=viewer"),
        ("token.revoke", "api_token", "<id>", "name=<name>"),
    ]


# -- the export -----------------------------------------------------------------------------


def test_an_export_is_the_same_file_and_audit_entry_from_every_surface(
    surfaces: Surfaces,
) -> None:
    with surfaces.runtime.sessions() as session:
        run_ids = add(session, FORTY)
        campaign(session, "camp-7", run_ids[10:30])
        session.commit()
    asked = {"since": "2025-03-02", "campaign": "camp-7"}
    outcomes = {}
    for surface in ("api", "dashboard", "cli"):
        mark = surfaces.audit_mark()

        if surface == "api":
            path = "/api/v1/flows/return_intention/export.csv"
            response = surfaces.api("GET", path, "viewer", query_string=asked)
            assert response.status_code == 200, response.get_data(as_text=True)
            exported = response.get_data(as_text=True)
        elif surface == "dashboard":
            query = {"flow": "return_intention", **asked}
            response = surfaces.browsers["viewer"].get(
                "/dashboard/results/export.csv", query_string=query
            )
            assert response.status_code == 200
            exported = response.get_data(as_text=True)
        else:
            options = [f"--{name}={value}" for name, value in asked.items()]
            result = surfaces.cli("export", "--flow", "return_intention", *options)
            assert result.exit_code == 0, result.output
            exported = result.stdout

        events = surfaces.audit_after(mark)
        assert {e.actor for e in events} == {ACTORS[surface].format(role="viewer")}
        outcomes[surface] = {"rows": exported.splitlines(), "audit": entries(events)}
    assert_same(outcomes)
    # Households an hour apart from 1 March 09:00: the campaign's from 2 March are 15 to 29.
    assert len(outcomes["cli"]["rows"]) == 1 + 15
    assert outcomes["cli"]["audit"] == [
        (
            "export",
            "flow",
            "return_intention",
            "format=csv rows=15 campaign=camp-7 since=2025-03-02",
        )
    ]


# -- the purge ------------------------------------------------------------------------------


def test_the_purge_is_audited_alike_at_the_command_line_and_by_the_nightly_worker(
    surfaces: Surfaces, app: Flask, run_jobs: Callable[..., int]
) -> None:
    runtime = surfaces.runtime
    outcomes = {}
    for surface, number in (("cli", "+22376000001"), ("worker", "+22376000002")):
        phone = Phone(app.test_client(), number=number)
        phone.dial()
        phone.answer_all(FULL_SURVEY_RETURN)
        run_jobs()
        pseudonym = runtime.services.pseudonymise(number)
        with runtime.sessions.begin() as session:
            (sms,) = session.scalars(select(Message).where(Message.respondent_id == pseudonym))
            sms.created_at = utc_now() - timedelta(days=91)
        mark = surfaces.audit_mark()

        if surface == "cli":
            result = surfaces.cli("purge")
            assert result.exit_code == 0, result.output
        else:
            runtime.queue.enqueue("workers.maintenance.daily_purge")
            run_jobs()

        with runtime.sessions() as session:
            purged = session.get_one(Message, sms.id)
        events = surfaces.audit_after(mark)
        assert {e.actor for e in events} == {surface}
        outcomes[surface] = {
            "message": (purged.to_encrypted == PURGED, purged.body == PURGED),
            "audit": entries(events),
        }
    assert_same(outcomes)
    assert outcomes["cli"]["message"] == (True, True)
    ((action, object_type, _, detail),) = outcomes["cli"]["audit"]
    assert (action, object_type) == ("purge", "retention")
    assert detail.startswith("1 outbox numbers and 1 message bodies;")
