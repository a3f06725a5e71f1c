"""Staff identities on the real database: roles, tokens, passwords, the audit log, and the
``users`` and ``tokens`` commands as a person at the server's terminal runs them."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner, Result
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.cli.staff import tokens, users
from gateway.core.crypto import password_hasher
from gateway.core.settings import PasswordHashProfile, Settings
from gateway.staff.actors import Actor
from gateway.staff.audit import audit, audit_page
from gateway.staff.errors import StaffError
from gateway.staff.models import ApiToken, AuditEvent, Role, User
from gateway.staff.tokens import create_token, find_token, hash_token, revoke_token, verify_token
from gateway.staff.users import authenticate_user, create_user

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple"


# -- roles ----------------------------------------------------------------------------------


def test_roles_include_the_roles_below_them() -> None:
    assert [role.value for role in Role] == ["viewer", "manager", "admin"]
    allowed = {(have, need) for have in Role for need in Role if have.includes(need)}
    assert allowed == {
        (Role.VIEWER, Role.VIEWER),
        (Role.MANAGER, Role.VIEWER),
        (Role.MANAGER, Role.MANAGER),
        (Role.ADMIN, Role.VIEWER),
        (Role.ADMIN, Role.MANAGER),
        (Role.ADMIN, Role.ADMIN),
    }
    assert Actor("token", "ci", Role.MANAGER).label == "token:ci"
    assert str(Actor("user", "awa", Role.ADMIN)) == "user:awa"


# -- tokens ---------------------------------------------------------------------------------


def test_token_lifecycle(db_session: Session) -> None:
    issued = create_token(db_session, name="export script", role=Role.VIEWER, actor="cli")
    db_session.commit()
    token = issued.token
    assert token.token_hash == hash_token(issued.secret) and len(token.token_hash) == 64
    assert issued.secret not in (token.token_hash, token.name, token.id)
    assert token.created_by == "cli" and token.last_used_at is None

    assert verify_token(db_session, issued.secret, now=T0).id == token.id
    assert token.last_used_at == T0
    # Within the minute: no write; past it: noted again.
    verify_token(db_session, issued.secret, now=T0 + timedelta(seconds=59))
    assert token.last_used_at == T0
    verify_token(db_session, issued.secret, now=T0 + timedelta(seconds=61))
    assert token.last_used_at == T0 + timedelta(seconds=61)

    with pytest.raises(StaffError, match="not valid") as unknown:
        verify_token(db_session, issued.secret + "x")
    assert unknown.value.status == 401

    assert find_token(db_session, token.id[:8]).id == token.id
    revoke_token(db_session, token.id[:8], actor="cli", now=T0)
    revoke_token(db_session, token.id, actor="cli")  # again: nothing changes
    db_session.commit()
    assert token.revoked_at == T0
    with pytest.raises(StaffError, match="revoked") as revoked:
        verify_token(db_session, issued.secret)
    assert revoked.value.status == 401

    events = [(e.actor, e.action, e.object_id) for e in db_session.scalars(select(AuditEvent))]
    assert events == [("cli", "token.create", token.id), ("cli", "token.revoke", token.id)]


def test_two_live_tokens_may_not_share_a_name(db_session: Session) -> None:
    first = create_token(db_session, name="deploy", role=Role.ADMIN, actor="cli")
    with pytest.raises(StaffError, match="already named 'deploy'") as clash:
        create_token(db_session, name=" deploy ", role=Role.VIEWER, actor="cli")
    assert clash.value.status == 409
    revoke_token(db_session, first.token.id, actor="cli")
    # Once the first is revoked, the name may be given again (a replacement token).
    assert create_token(db_session, name="deploy", role=Role.ADMIN, actor="cli").token.name == (
        "deploy"
    )
    with pytest.raises(StaffError, match="token name"):
        create_token(db_session, name="\x1b[31m", role=Role.ADMIN, actor="cli")
    with pytest.raises(StaffError, match="no token") as missing:
        find_token(db_session, "ffffffff")
    assert missing.value.status == 404


# -- users and passwords --------------------------------------------------------------------


@pytest.fixture
def hasher(settings: Settings) -> PasswordHasher:
    """The password hasher the tests' settings name (the cheapest profile)."""
    return password_hasher(settings.password_hash_profile)


@pytest.fixture
def new_user(db_session: Session, hasher: PasswordHasher) -> Callable[..., User]:
    """``create_user`` on the test database, as the CLI calls it."""
    return partial(create_user, db_session, actor="cli", hasher=hasher)


def test_a_user_signs_in_with_the_right_password_only(
    db_session: Session, hasher: PasswordHasher, new_user: Callable[..., User]
) -> None:
    user = new_user(username=" Awa.Traore ", password=PASSWORD, role=Role.MANAGER)
    db_session.commit()
    assert user.username == "awa.traore" and user.active
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash

    assert authenticate_user(db_session, "awa.traore", PASSWORD + "!", hasher=hasher) is None
    assert authenticate_user(db_session, "nobody", PASSWORD, hasher=hasher) is None
    signed_in = authenticate_user(db_session, "AWA.TRAORE", PASSWORD, hasher=hasher, now=T0)
    assert signed_in is not None and signed_in.id == user.id
    assert signed_in.last_login_at == T0
    db_session.commit()

    user.active = False
    db_session.commit()
    assert authenticate_user(db_session, "awa.traore", PASSWORD, hasher=hasher) is None

    events = [(e.actor, e.action) for e in db_session.scalars(select(AuditEvent))]
    assert events == [("cli", "user.create"), ("user:awa.traore", "login")]


def test_a_password_hashed_at_another_cost_signs_in_and_is_rehashed_at_the_current_cost(
    db_session: Session, new_user: Callable[..., User]
) -> None:
    user = new_user(username="awa", password=PASSWORD, role=Role.VIEWER)
    db_session.commit()
    cheap_hash = user.password_hash
    assert cheap_hash.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    # The deployment now hashes at RFC 9106's low-memory cost (the production default).
    current = password_hasher(PasswordHashProfile.RFC_9106_LOW_MEMORY)

    assert authenticate_user(db_session, "awa", PASSWORD + "!", hasher=current) is None
    assert user.password_hash == cheap_hash  # a wrong password changes nothing
    assert authenticate_user(db_session, "awa", PASSWORD, hasher=current) is not None
    db_session.commit()

    upgraded = user.password_hash
    assert upgraded.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert authenticate_user(db_session, "awa", PASSWORD, hasher=current) is not None
    assert user.password_hash == upgraded  # remade once, not at every sign-in


@pytest.mark.parametrize(
    ("username", "password", "problem"),
    [
        ("awa", "short", "at least 12 characters"),
        ("awa", "x" * 257, "at most 256"),
        ("a", PASSWORD, "a username is 2 to 64"),
        ("awa traore", PASSWORD, "a username is"),
    ],
)
def test_weak_passwords_and_odd_usernames_are_refused(
    new_user: Callable[..., User], username: str, password: str, problem: str
) -> None:
    with pytest.raises(StaffError, match=problem):
        new_user(username=username, password=password, role=Role.VIEWER)


def test_a_username_is_given_once(new_user: Callable[..., User]) -> None:
    new_user(username="awa", password=PASSWORD, role=Role.VIEWER)
    with pytest.raises(StaffError, match="taken") as taken:
        new_user(username="AWA", password=PASSWORD, role=Role.ADMIN)
    assert taken.value.status == 409


# -- audit log ------------------------------------------------------------------------------


def test_the_audit_log_masks_numbers_and_is_append_only(db_session: Session) -> None:
    event = audit(db_session, "cli", "export", "flow", "return_intention", "asked by +22376123456")
    db_session.commit()
    assert event.detail == "asked by +22376****56"
    assert audit_page(db_session, action="export") == (1, [event])

    event.detail = "something else"
    with pytest.raises(ValueError, match="append-only"):
        db_session.flush()
    db_session.rollback()
    db_session.delete(event)
    with pytest.raises(ValueError, match="append-only"):
        db_session.flush()
    db_session.rollback()


# -- the commands ---------------------------------------------------------------------------


def command(settings: Settings, group: object, *args: str, stdin: str | None = None) -> Result:
    """Run ``survey-gateway users|tokens ...`` with only this test's settings."""
    env: dict[str, str | None] = {
        name: None
        for name in os.environ
        if name.startswith(("GATEWAY_", "AT_")) or name in ("REDIS_URL", "DATABASE_URL")
    }
    env.update(
        {
            "GATEWAY_VAR_DIR": str(settings.var_dir),
            "DATABASE_URL": settings.database_url,
            "GATEWAY_PASSWORD_HASH_PROFILE": settings.password_hash_profile,
        }
    )
    return CliRunner().invoke(group, list(args), input=stdin, env=env)  # type: ignore[arg-type]


def stored(settings: Settings, session: Session) -> tuple[list[User], list[ApiToken]]:
    session.expire_all()
    return list(session.scalars(select(User))), list(session.scalars(select(ApiToken)))


def test_users_create_and_list_from_the_command_line(
    settings: Settings, db_session: Session, hasher: PasswordHasher
) -> None:
    prompted = command(
        settings, users, "create", "Awa", "--role", "admin", stdin=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert prompted.exit_code == 0, prompted.output
    assert "User awa created, role admin." in prompted.output
    assert PASSWORD not in prompted.output

    piped = command(
        settings, users, "create", "moussa", "--role", "viewer", "--password-stdin", stdin=PASSWORD
    )
    assert piped.exit_code == 0, piped.output
    mismatch = command(settings, users, "create", "bob", "--role", "viewer", stdin="a\nb\n" * 3)
    assert mismatch.exit_code != 0
    short = command(
        settings, users, "create", "bob", "--role", "viewer", "--password-stdin", stdin="short\n"
    )
    assert short.exit_code == 1 and "at least 12 characters" in short.output
    taken = command(
        settings, users, "create", "awa", "--role", "viewer", "--password-stdin", stdin=PASSWORD
    )
    assert taken.exit_code == 1 and "the username 'awa' is taken" in taken.output

    listing = command(settings, users, "list")
    assert listing.exit_code == 0, listing.output
    header, *rows = listing.output.splitlines()
    assert header.split()[:3] == ["USERNAME", "ROLE", "ACTIVE"]
    assert [row.split()[:3] for row in rows] == [
        ["awa", "admin", "yes"],
        ["moussa", "viewer", "yes"],
    ]

    users_stored, _ = stored(settings, db_session)
    assert {u.username for u in users_stored} == {"awa", "moussa"}
    # Hashed at the cost GATEWAY_PASSWORD_HASH_PROFILE names (the tests' cheapest).
    assert all(u.password_hash.startswith("$argon2id$v=19$m=8,t=1,p=1$") for u in users_stored)
    assert authenticate_user(db_session, "moussa", PASSWORD, hasher=hasher) is not None
    events = [(e.actor, e.action) for e in db_session.scalars(select(AuditEvent))]
    assert events[:2] == [("cli", "user.create"), ("cli", "user.create")]


def test_tokens_create_list_and_revoke_from_the_command_line(
    settings: Settings, db_session: Session
) -> None:
    made = command(settings, tokens, "create", "--name", "nightly", "--role", "manager")
    assert made.exit_code == 0, made.output
    secret = made.stdout.strip()
    assert "\n" not in secret and len(secret) >= 43
    assert "shown only now and is not stored" in made.stderr
    assert verify_token(db_session, secret).role is Role.MANAGER
    db_session.commit()

    listing = command(settings, tokens, "list")
    assert listing.exit_code == 0 and secret not in listing.output
    header, row = listing.output.splitlines()
    assert header.split()[:4] == ["ID", "NAME", "ROLE", "STATUS"]
    short_id = row.split()[0]
    assert row.split()[1:4] == ["nightly", "manager", "active"]

    revoked = command(settings, tokens, "revoke", short_id)
    assert revoked.exit_code == 0, revoked.output
    assert f"Token 'nightly' ({short_id}) is revoked." in revoked.output
    assert "revoked 20" in command(settings, tokens, "list").output
    unknown = command(settings, tokens, "revoke", "ffffffff")
    assert unknown.exit_code == 1 and "no token has the id 'ffffffff'" in unknown.output
    db_session.expire_all()
    with pytest.raises(StaffError, match="revoked"):
        verify_token(db_session, secret)

    events = [(e.actor, e.action) for e in db_session.scalars(select(AuditEvent))]
    assert events == [("cli", "token.create"), ("cli", "token.revoke")]


def test_the_commands_refuse_a_database_that_was_never_migrated(settings: Settings) -> None:
    result = command(settings, tokens, "list")
    assert result.exit_code == 2
    assert "no api_tokens table yet" in result.output
