"""The administration pages: accounts, API tokens and the audit log, for admins only.

Each change is made as an admin would, by posting the page's form with its CSRF token, and
checked where it shows: the stored row, the audit entry, the page, and what the account or
token can do afterwards (sign in, call the API). The command line's same operations are at
the end: the same service, the same audit entries, actor ``cli``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from click.testing import Result
from flask.testing import FlaskClient
from sqlalchemy import select

from gateway.cli.staff import users as users_command
from gateway.core.clock import utc_now
from gateway.core.runtime import Runtime
from gateway.core.settings import Settings
from gateway.staff.models import ApiToken, AuditEvent, Role, User
from tests.accounts.test_auth import command
from tests.staff import (
    PASSWORD,
    assert_light_page,
    audit_actions,
    csrf_token,
    make_staff,
    sign_in,
    text_of,
)

NEW_PASSWORD = "a much longer passphrase"
ADMIN_PAGES = ["/dashboard/admin/users", "/dashboard/admin/tokens", "/dashboard/admin/audit"]


@pytest.fixture
def admin(client: FlaskClient, runtime: Runtime) -> FlaskClient:
    """A browser signed in as ``admin`` (accounts ``viewer`` and ``manager`` exist too)."""
    make_staff(runtime)
    sign_in(client, "admin")
    return client


def post(client: FlaskClient, page: str, action: str, **form: str) -> Any:
    """Post a page's form as a browser does, with the page's CSRF token."""
    token = csrf_token(client.get(page).get_data(as_text=True))
    return client.post(action, data={"csrf_token": token, **form}, follow_redirects=True)


def change(client: FlaskClient, username: str, what: str, **form: str) -> Any:
    """Post one of a user page's forms (``disable``, ``enable``, ``role``, ``password``)."""
    page = f"/dashboard/admin/users/{username}"
    return post(client, page, f"{page}/{what}", **form)


def the_user(runtime: Runtime, username: str) -> User:
    with runtime.sessions() as session:
        return session.scalars(select(User).where(User.username == username)).one()


def last_event(runtime: Runtime) -> AuditEvent:
    with runtime.sessions() as session:
        return session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()


# -- who may ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_only_admins_see_the_administration(
    client: FlaskClient, runtime: Runtime, path: str
) -> None:
    make_staff(runtime)
    sign_in(client, "manager")
    assert client.get(path).status_code == 403
    assert "Administration" not in text_of(client.get("/dashboard/campaigns/"))

    client.post("/dashboard/logout", data={"csrf_token": csrf_token(text_of(client.get(path)))})
    sign_in(client, "admin")
    shown = client.get(path)
    assert shown.status_code == 200
    assert_light_page(shown.get_data(as_text=True))
    assert "Administration" in text_of(client.get("/dashboard/campaigns/"))


# -- users -----------------------------------------------------------------------------------


def test_an_admin_adds_a_user_who_then_signs_in(admin: FlaskClient, runtime: Runtime) -> None:
    page = post(
        admin,
        "/dashboard/admin/users",
        "/dashboard/admin/users",
        username="Awa.Traore",
        password=PASSWORD,
        role="manager",
    )

    assert "Utilisateur awa.traore créé." in text_of(page)
    awa = the_user(runtime, "awa.traore")
    assert awa.role is Role.MANAGER and awa.active
    assert ("user:admin", "user.create") in audit_actions(runtime)
    other = admin.application.test_client()
    assert sign_in(other, "awa.traore").status_code == 302
    assert other.get("/dashboard/enumerators/").status_code == 200


def test_the_new_user_form_shows_every_problem_at_once_and_keeps_the_values(
    admin: FlaskClient, runtime: Runtime
) -> None:
    refused = post(
        admin,
        "/dashboard/admin/users",
        "/dashboard/admin/users",
        username="é",
        password="court",
        role="chef",
    )

    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    text = text_of(refused)
    assert "corrigez les champs signalés" in text
    assert 'id="username-error"' in html and "un identifiant a de 2 à 64 caractères" in text
    assert 'id="password-error"' in html and "un mot de passe a au moins 12 caractères" in text
    assert 'id="role-error"' in html and "choisissez un rôle" in text
    assert 'aria-describedby="password-error"' in html
    assert 'value="é"' in html and "court" not in html  # the password is never sent back

    taken = post(
        admin,
        "/dashboard/admin/users",
        "/dashboard/admin/users",
        username="manager",
        password=PASSWORD,
        role="viewer",
    )
    assert taken.status_code == 422
    assert "l'identifiant 'manager' est déjà pris" in text_of(taken)
    with runtime.sessions() as session:
        assert session.scalar(select(User).where(User.username == "é")) is None


def test_a_disabled_user_is_signed_out_and_can_be_enabled_again(
    admin: FlaskClient, runtime: Runtime
) -> None:
    manager = admin.application.test_client()
    sign_in(manager, "manager")
    assert manager.get("/dashboard/enumerators/").status_code == 200

    done = change(admin, "manager", "disable")

    assert "Le compte manager est désactivé." in text_of(done)
    assert not the_user(runtime, "manager").active
    # The open session stops at its next page, and signing in again is refused.
    assert "/dashboard/login" in manager.get("/dashboard/enumerators/").headers["Location"]
    assert sign_in(manager, "manager").status_code == 200
    assert last_event(runtime).action == "user.disable"

    change(admin, "manager", "enable")
    assert the_user(runtime, "manager").active
    assert sign_in(admin.application.test_client(), "manager").status_code == 302
    assert ("user:admin", "user.enable") in audit_actions(runtime)


def test_an_admin_changes_a_role_and_the_change_is_audited(
    admin: FlaskClient, runtime: Runtime
) -> None:
    viewer = admin.application.test_client()
    sign_in(viewer, "viewer")
    assert viewer.get("/dashboard/enumerators/").status_code == 403

    done = change(admin, "viewer", "role", role="manager")

    assert "viewer a maintenant le rôle gestion." in text_of(done)
    assert the_user(runtime, "viewer").role is Role.MANAGER
    assert viewer.get("/dashboard/enumerators/").status_code == 200  # at once
    event = last_event(runtime)
    assert (event.actor, event.action) == ("user:admin", "user.role")
    assert event.detail == "username=viewer viewer -> manager"


def test_the_last_admin_cannot_demote_or_disable_themselves(
    admin: FlaskClient, runtime: Runtime
) -> None:
    before = len(audit_actions(runtime))
    demoted = change(admin, "admin", "role", role="viewer")
    disabled = change(admin, "admin", "disable")

    for refused in (demoted, disabled):
        assert "Impossible : il ne resterait plus aucun administrateur actif" in text_of(refused)
    me = the_user(runtime, "admin")
    assert me.role is Role.ADMIN and me.active
    assert len(audit_actions(runtime)) == before

    # With a second admin, the first may step down.
    change(admin, "manager", "role", role="admin")
    change(admin, "admin", "role", role="viewer")
    assert the_user(runtime, "admin").role is Role.VIEWER
    assert admin.get("/dashboard/admin/users").status_code == 403


def test_an_admin_resets_a_password(admin: FlaskClient, runtime: Runtime) -> None:
    signed_in_before = admin.application.test_client()
    sign_in(signed_in_before, "viewer")
    assert signed_in_before.get("/dashboard/campaigns/").status_code == 200
    short = change(admin, "viewer", "password", password="x")
    assert short.status_code == 422 and 'id="password-error"' in short.get_data(as_text=True)
    assert signed_in_before.get("/dashboard/campaigns/").status_code == 200  # nothing changed

    done = change(admin, "viewer", "password", password=NEW_PASSWORD)

    assert "Le mot de passe de viewer est changé." in text_of(done)
    # Whoever was signed in with the old password is signed out at their next page.
    assert "/dashboard/login" in signed_in_before.get("/dashboard/campaigns/").headers["Location"]
    assert admin.get("/dashboard/admin/users").status_code == 200  # the admin's own goes on
    other = admin.application.test_client()
    assert sign_in(other, "viewer").status_code == 200  # the old password no longer works
    assert sign_in(other, "viewer", NEW_PASSWORD).status_code == 302
    with runtime.sessions() as session:
        reset = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "user.password_reset")
        ).one()
    assert reset.actor == "user:admin" and NEW_PASSWORD not in (reset.detail or "")


def test_an_unknown_user_is_a_404(admin: FlaskClient) -> None:
    assert admin.get("/dashboard/admin/users/nobody").status_code == 404
    refused = post(admin, "/dashboard/admin/users", "/dashboard/admin/users/nobody/disable")
    assert refused.status_code == 404


# -- tokens ----------------------------------------------------------------------------------


def test_a_token_secret_is_shown_once_and_works_until_revoked(
    admin: FlaskClient, runtime: Runtime
) -> None:
    made = post(
        admin, "/dashboard/admin/tokens", "/dashboard/admin/tokens", name="export", role="viewer"
    )

    html = made.get_data(as_text=True)
    assert "Jeton 'export' créé, rôle lecture." in text_of(made)
    secret = html.split('id="secret" class="secret-value" value="')[1].split('"')[0]
    assert len(secret) >= 43
    api = admin.application.test_client()
    me = api.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200 and me.get_json()["name"] == "export"
    listing = admin.get("/dashboard/admin/tokens").get_data(as_text=True)
    assert "export" in listing and secret not in listing
    with runtime.sessions() as session:
        token = session.scalars(select(ApiToken)).one()
    assert token.created_by == "user:admin"

    confirm = admin.get(f"/dashboard/admin/tokens/{token.id}/revoke")
    assert "Révoquer le jeton 'export' ?" in text_of(confirm)
    assert ("user:admin", "token.revoke") not in audit_actions(runtime)  # asking changes nothing
    revoked = post(
        admin,
        f"/dashboard/admin/tokens/{token.id}/revoke",
        f"/dashboard/admin/tokens/{token.id}/revoke",
    )

    assert "Le jeton 'export' est révoqué." in text_of(revoked)
    assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    assert [a for a in audit_actions(runtime) if a[1].startswith("token.")] == [
        ("user:admin", "token.create"),
        ("user:admin", "token.revoke"),
    ]


def test_the_token_form_shows_every_problem_at_once(admin: FlaskClient, runtime: Runtime) -> None:
    refused = post(
        admin, "/dashboard/admin/tokens", "/dashboard/admin/tokens", name="!!", role="root"
    )
    assert refused.status_code == 422
    text = text_of(refused)
    assert "un nom de jeton a de 1 à 64 caractères" in text and "choisissez un rôle" in text
    post(admin, "/dashboard/admin/tokens", "/dashboard/admin/tokens", name="deploy", role="admin")
    clash = post(
        admin, "/dashboard/admin/tokens", "/dashboard/admin/tokens", name="deploy", role="viewer"
    )
    assert clash.status_code == 422 and "un jeton actif s'appelle déjà 'deploy'" in text_of(clash)
    with runtime.sessions() as session:
        assert len(session.scalars(select(ApiToken)).all()) == 1


# -- audit log -------------------------------------------------------------------------------


def add_events(runtime: Runtime, count: int, actor: str, action: str, days_ago: int = 0) -> None:
    at = utc_now() - timedelta(days=days_ago)
    with runtime.sessions.begin() as session:
        for i in range(count):
            session.add(
                AuditEvent(
                    at=at, actor=actor, action=action, object_type="campaign", object_id=f"c{i}"
                )
            )


def test_the_audit_log_is_paged_and_filtered(admin: FlaskClient, runtime: Runtime) -> None:
    add_events(runtime, 60, "user:manager", "campaign.start")
    add_events(runtime, 3, "token:deploy", "token.create", days_ago=40)

    first = admin.get("/dashboard/admin/audit?actor=user:manager").get_data(as_text=True)
    assert "60 au total." in first and "Page 1 sur 2" in first
    assert first.count("<td>campaign.start</td>") == 50
    assert 'href="/dashboard/admin/audit?page=2&amp;actor=user:manager"' in first
    second = admin.get("/dashboard/admin/audit?actor=user:manager&page=2").get_data(as_text=True)
    assert "Page 2 sur 2" in second and second.count("<td>campaign.start</td>") == 10
    beyond = admin.get("/dashboard/admin/audit?page=999999&actor=user:manager")
    assert "Rien à afficher." in text_of(beyond)

    by_action = text_of(admin.get("/dashboard/admin/audit?action=token.create"))
    assert "3 au total." in by_action and "token:deploy" in by_action
    day = (utc_now() - timedelta(days=40)).date()
    french = day.strftime("%d/%m/%Y")
    by_period = text_of(admin.get(f"/dashboard/admin/audit?since={french}&until={french}"))
    assert "3 au total." in by_period
    iso = text_of(admin.get(f"/dashboard/admin/audit?since={day.isoformat()}&until={day}"))
    assert "3 au total." in iso
    assert "1 au total." in text_of(admin.get("/dashboard/admin/audit?actor=user:admin"))


def test_a_wrong_date_in_the_audit_filter_is_said_next_to_its_field(admin: FlaskClient) -> None:
    page = admin.get("/dashboard/admin/audit?since=31/02/2026&until=hier")

    assert page.status_code == 400
    html = page.get_data(as_text=True)
    text = text_of(page)
    assert 'id="since-error"' in html and "'31/02/2026' n'est pas une date" in text
    assert 'id="until-error"' in html and "'hier' n'est pas une date" in text
    english = admin.get("/dashboard/language/en?next=/dashboard/admin/audit?since=x")
    assert "'x' is not a date: write it like 31/03/2026" in text_of(
        admin.get(english.headers["Location"])
    )


# -- the command line ------------------------------------------------------------------------


def test_the_command_line_makes_the_same_changes(settings: Settings, runtime: Runtime) -> None:
    make_staff(runtime)

    def run(*args: str, stdin: str | None = None) -> Result:
        return command(settings, users_command, *args, stdin=stdin)

    assert run("role", "viewer", "--role", "manager").output == "User viewer is now manager.\n"
    assert run("disable", "manager").exit_code == 0
    assert run("enable", "manager").exit_code == 0
    reset = run("reset-password", "viewer", "--password-stdin", stdin=NEW_PASSWORD)
    assert reset.exit_code == 0 and NEW_PASSWORD not in reset.output
    last = run("disable", "admin")
    assert last.exit_code == 1 and "this would leave no active admin" in last.output
    unknown = run("disable", "nobody")
    assert unknown.exit_code == 1 and "no user is named 'nobody'" in unknown.output

    assert audit_actions(runtime)[-4:] == [
        ("cli", "user.role"),
        ("cli", "user.disable"),
        ("cli", "user.enable"),
        ("cli", "user.password_reset"),
    ]
    assert the_user(runtime, "viewer").role is Role.MANAGER
    assert the_user(runtime, "admin").active
