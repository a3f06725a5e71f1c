"""Dashboard users: their accounts, their passwords, and signing in.

Passwords are hashed with argon2id at the cost the settings name
(``GATEWAY_PASSWORD_HASH_PROFILE``); the hasher is built once, by
``gateway.core.crypto.password_hasher``, and passed in. A hash keeps its own parameters, so
one made at another cost still verifies, and is remade at the current cost when its user signs
in. The dashboard's session login is built on
:func:`authenticate_user`; API tokens, the other staff credential, are in ``gateway.staff.tokens``.

Functions that change rows take a SQLAlchemy session, write their audit event in it, and leave
committing to the caller.
"""

from __future__ import annotations

import re
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core.clock import utc_now
from gateway.core.i18n import Translatable
from gateway.staff.actors import Actor
from gateway.staff.audit import NamedActor, audit
from gateway.staff.errors import StaffError
from gateway.staff.models import Role, User

MIN_PASSWORD_LENGTH = 12
# argon2 would hash a megabyte happily, slowly: a long "password" is a denial of service.
MAX_PASSWORD_LENGTH = 256
USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")


def hash_password(password: str, *, hasher: PasswordHasher) -> str:
    """An argon2id hash of the password (salted; the parameters are stored in the hash)."""
    return hasher.hash(password)


def verify_password(password_hash: str, password: str, *, hasher: PasswordHasher) -> bool:
    """True when the password matches the hash, whatever parameters it was made with."""
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def normalise_username(username: str) -> str:
    """Usernames are compared as typed, without surrounding spaces and case."""
    return username.strip().lower()


def password_problem(password: str) -> Translatable | None:
    """Why the password cannot be accepted (too short, too long), or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return Translatable("staff_error.password_short", min=MIN_PASSWORD_LENGTH)
    if len(password) > MAX_PASSWORD_LENGTH:
        return Translatable("staff_error.password_long", max=MAX_PASSWORD_LENGTH)
    return None


def username_problem(username: str) -> Translatable | None:
    """Why the username (as typed) cannot be accepted, or None."""
    if not USERNAME.fullmatch(normalise_username(username)):
        return Translatable("staff_error.username_format")
    return None


def check_password_rules(password: str) -> None:
    """Raise StaffError when the password is too short or too long to be accepted."""
    problem = password_problem(password)
    if problem is not None:
        raise StaffError(problem)


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: Role,
    actor: NamedActor | str,
    hasher: PasswordHasher,
) -> User:
    """Add a dashboard user with this password and role, its hash made by ``hasher``."""
    problem = username_problem(username)
    if problem is not None:
        raise StaffError(problem)
    username = normalise_username(username)
    check_password_rules(password)
    if session.scalars(select(User.id).where(User.username == username)).first() is not None:
        raise StaffError(Translatable("staff_error.username_taken", username=username), status=409)
    password_hash = hash_password(password, hasher=hasher)
    user = User(username=username, password_hash=password_hash, role=role, active=True)
    session.add(user)
    session.flush()
    audit(session, actor, "user.create", "user", user.id, f"username={username} role={role}")
    return user


def list_users(session: Session) -> list[User]:
    """Every user, in username order."""
    return list(session.scalars(select(User).order_by(User.username)))


def authenticate_user(
    session: Session,
    username: str,
    password: str,
    *,
    hasher: PasswordHasher,
    now: datetime | None = None,
) -> User | None:
    """The active user with this username and password, or None; for the dashboard's login.

    On success, notes ``last_login_at``, remakes the hash with ``hasher`` if it was made with
    other parameters and writes a ``login`` audit event; the caller commits. Failure takes as
    long for an unknown user as for a wrong password, so the timing does not tell which
    usernames exist.
    """
    if len(password) > MAX_PASSWORD_LENGTH:
        return None
    user = session.scalars(
        select(User).where(User.username == normalise_username(username))
    ).first()
    if user is None or not user.active:
        # As long as checking a real user's password: one hash at the current cost.
        hash_password(password, hasher=hasher)
        return None
    if not verify_password(user.password_hash, password, hasher=hasher):
        return None
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password, hasher=hasher)
    user.last_login_at = now or utc_now()
    session.flush()
    audit(session, Actor.for_user(user), "login", "user", user.id)
    return user


def find_user(session: Session, username: str) -> User:
    """The user with this username (any case); StaffError 404 when there is none."""
    name = normalise_username(username)
    user = session.scalars(select(User).where(User.username == name)).first()
    if user is None:
        raise StaffError(Translatable("staff_error.unknown_user", username=name[:64]), status=404)
    return user


def set_active(session: Session, username: str, active: bool, *, actor: NamedActor | str) -> User:
    """Let the user sign in again, or no more; doing what is already so changes (and audits)
    nothing. The last active admin cannot be disabled."""
    user = find_user(session, username)
    if user.active is active:
        return user
    if not active:
        _keep_an_admin(session, user)
    user.active = active
    session.flush()
    audit(
        session, actor, "user.enable" if active else "user.disable", "user", user.id, user.username
    )
    return user


def set_role(session: Session, username: str, role: Role, *, actor: NamedActor | str) -> User:
    """Give the user another role; the last active admin keeps theirs."""
    user = find_user(session, username)
    before = Role(user.role)
    if before is role:
        return user
    if before is Role.ADMIN:
        _keep_an_admin(session, user)
    user.role = role
    session.flush()
    detail = f"username={user.username} {before} -> {role}"
    audit(session, actor, "user.role", "user", user.id, detail)
    return user


def set_password(
    session: Session,
    username: str,
    password: str,
    *,
    actor: NamedActor | str,
    hasher: PasswordHasher,
) -> User:
    """Give the user a new password (someone who forgot theirs); audited, never the password."""
    check_password_rules(password)
    user = find_user(session, username)
    user.password_hash = hash_password(password, hasher=hasher)
    session.flush()
    audit(session, actor, "user.password_reset", "user", user.id, user.username)
    return user


def _keep_an_admin(session: Session, leaving: User) -> None:
    """Refuse (409) to take away the last active admin: nobody could then manage accounts."""
    if not (leaving.active and Role(leaving.role) is Role.ADMIN):
        return
    # Locked on PostgreSQL: two admins demoting each other at once cannot both see the other.
    others = session.scalars(
        select(User.id)
        .where(User.role == Role.ADMIN, User.active.is_(True), User.id != leaving.id)
        .with_for_update()
    ).all()
    if not others:
        raise StaffError(Translatable("staff_error.last_admin"), status=409)
