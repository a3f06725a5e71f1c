"""Staff accounts and API tokens as a person manages them, from the API or the command line.

One function per operation, whichever surface asks: it owns the transaction, and the audit row
(``user.create``, ``user.disable``, ``user.enable``, ``user.role``, ``user.password_reset``,
``token.create``, ``token.revoke``, written by ``gateway.staff.users`` and
``gateway.staff.tokens`` inside it) commits or rolls back with the change. A refusal is a
``StaffError`` carrying its HTTP status, the same for every surface.

These take the session factory rather than the whole runtime: an admin makes the first account
and the first tokens at a terminal before anything runs, and that must not need Redis.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from argon2 import PasswordHasher
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from gateway.staff.audit import NamedActor
from gateway.staff.errors import StaffError
from gateway.staff.models import ApiToken, Role, User
from gateway.staff.tokens import IssuedToken, create_token, revoke_token
from gateway.staff.users import create_user, set_active, set_password, set_role


def add_user(
    sessions: sessionmaker[Session],
    actor: NamedActor | str,
    *,
    username: str,
    password: str,
    role: Role,
    hasher: PasswordHasher,
) -> User:
    """Add a dashboard user with this password and role; audited ``user.create``."""
    with _one_at_a_time(), sessions.begin() as session:
        return create_user(
            session, username=username, password=password, role=role, actor=actor, hasher=hasher
        )


def change_user_active(
    sessions: sessionmaker[Session], actor: NamedActor | str, username: str, *, active: bool
) -> User:
    """Disable a user (they cannot sign in from their next page on) or enable them again;
    audited ``user.disable`` / ``user.enable``. The last active admin cannot be disabled."""
    with _one_at_a_time(), sessions.begin() as session:
        return set_active(session, username, active, actor=actor)


def change_user_role(
    sessions: sessionmaker[Session], actor: NamedActor | str, username: str, *, role: Role
) -> User:
    """Give a user another role, from their next page on; audited ``user.role``. The last
    active admin keeps theirs."""
    with _one_at_a_time(), sessions.begin() as session:
        return set_role(session, username, role, actor=actor)


def reset_password(
    sessions: sessionmaker[Session],
    actor: NamedActor | str,
    username: str,
    *,
    password: str,
    hasher: PasswordHasher,
) -> User:
    """Give a user a new password; audited ``user.password_reset`` (never the password)."""
    with _one_at_a_time(), sessions.begin() as session:
        return set_password(session, username, password, actor=actor, hasher=hasher)


def issue_token(
    sessions: sessionmaker[Session], actor: NamedActor | str, *, name: str, role: Role
) -> IssuedToken:
    """Make an API token; its secret is in the result only. Audited ``token.create``."""
    with _one_at_a_time(), sessions.begin() as session:
        return create_token(session, name=name, role=role, actor=actor)


def revoke_api_token(
    sessions: sessionmaker[Session], actor: NamedActor | str, ident: str
) -> ApiToken:
    """Revoke the token with this id (or id prefix) for good; audited ``token.revoke`` once."""
    with _one_at_a_time(), sessions.begin() as session:
        return revoke_token(session, ident, actor=actor)


@contextmanager
def _one_at_a_time() -> Iterator[None]:
    """A unique name taken by a request committed meanwhile: a 409, as a clash seen before."""
    try:
        yield
    except IntegrityError:
        raise StaffError(
            "this conflicts with a change made at the same time: try again", status=409
        ) from None
