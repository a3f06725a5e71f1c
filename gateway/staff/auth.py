"""Staff identities: who a request acts as, and API tokens.

**API tokens** (``Authorization: Bearer <secret>``) are the staff credential of scripts and
the API. The secret is ``secrets.token_urlsafe(32)``, shown once when made; only its SHA-256 is
stored. A token is found by its hash, so no secret is ever compared byte by byte. The other
credential, a dashboard user's password, is in ``gateway.staff.users``.

Roles are hierarchical (``viewer`` < ``manager`` < ``admin``); the guard on API views that
checks a request's token and role is ``gateway.web.auth.require_role``. Functions that change
rows take a SQLAlchemy session, write their audit event in it, and leave committing to the
caller.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core.clock import utc_now
from gateway.core.errors import DomainError
from gateway.core.lookup import rows_by_id
from gateway.staff.audit import NamedActor, audit
from gateway.staff.models import ApiToken, Role, User

__all__ = [
    "Actor",
    "IssuedToken",
    "Role",
    "StaffError",
    "create_token",
    "find_token",
    "hash_token",
    "revoke_token",
    "verify_token",
]

# last_used_at is for people ("is this token still in use?"): to the minute is enough, and it
# spares a database write on every request of a busy script.
LAST_USED_RESOLUTION = timedelta(minutes=1)
TOKEN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._:-]{0,63}")


class StaffError(DomainError):
    """A staff request that cannot be done: a user, a token or a credential."""


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is making the current request: an API token or a signed-in dashboard user."""

    kind: Literal["token", "user"]
    name: str
    role: Role

    @classmethod
    def for_token(cls, token: ApiToken) -> Actor:
        """The actor a request with this token acts as."""
        return cls("token", token.name, token.role)

    @classmethod
    def for_user(cls, user: User) -> Actor:
        """The actor a signed-in user acts as."""
        return cls("user", user.username, user.role)

    @property
    def label(self) -> str:
        """The actor as the audit log names it: ``user:alice``, ``token:deploy``."""
        return f"{self.kind}:{self.name}"

    def __str__(self) -> str:
        return self.label

    def may(self, required: Role) -> bool:
        """True when the actor's role includes ``required``."""
        return self.role.includes(required)


# -- API tokens -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token just made, with its secret: the only time the secret is known."""

    token: ApiToken
    secret: str


def hash_token(secret: str) -> str:
    """The hex SHA-256 stored for a token secret."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_token(
    session: Session, *, name: str, role: Role, actor: NamedActor | str
) -> IssuedToken:
    """Make an API token; the secret is in the result and nowhere else, ever."""
    name = " ".join(name.split())
    if not TOKEN_NAME.fullmatch(name):
        raise StaffError(
            "a token name is 1 to 64 letters, digits, spaces or . _ : - (e.g. 'export-script')"
        )
    clash = session.scalars(
        select(ApiToken.id).where(ApiToken.name == name, ApiToken.revoked_at.is_(None))
    ).first()
    if clash is not None:
        # The audit log names a token by its name: two live tokens must not share one.
        raise StaffError(f"an active token is already named '{name}'", status=409)
    secret = secrets.token_urlsafe(32)
    token = ApiToken(
        name=name, token_hash=hash_token(secret), role=role, created_by=str(actor)[:80]
    )
    session.add(token)
    session.flush()
    audit(session, actor, "token.create", "api_token", token.id, f"name={name} role={role}")
    return IssuedToken(token, secret)


def find_token(session: Session, ident: str) -> ApiToken:
    """The token with this id, or the one token whose id starts with it (6 characters or more)."""
    ident = ident.strip().lower()
    matches = rows_by_id(session, ApiToken, ident)
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise StaffError(f"more than one token has an id starting '{ident}'", status=409)
    raise StaffError(f"no token has the id '{ident}'", status=404)


def verify_token(session: Session, secret: str, *, now: datetime | None = None) -> ApiToken:
    """The live token this secret belongs to; raises StaffError (401) for any other secret.

    Notes the time of use at most once a minute (see LAST_USED_RESOLUTION); the caller commits.
    """
    token = session.scalars(
        select(ApiToken).where(ApiToken.token_hash == hash_token(secret))
    ).first()
    if token is None:
        raise StaffError(
            "the bearer token is not valid: check it was copied whole, or ask an admin for one",
            status=401,
        )
    if token.revoked_at is not None:
        raise StaffError(
            f"the token '{token.name}' was revoked: ask an admin for a new one", status=401
        )
    now = now or utc_now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        token.last_used_at = now
    return token


def revoke_token(
    session: Session, ident: str, *, actor: NamedActor | str, now: datetime | None = None
) -> ApiToken:
    """Revoke a token for good; revoking a revoked token changes (and audits) nothing."""
    token = find_token(session, ident)
    if token.revoked_at is None:
        token.revoked_at = now or utc_now()
        session.flush()
        audit(session, actor, "token.revoke", "api_token", token.id, f"name={token.name}")
    return token


def list_tokens(session: Session) -> list[ApiToken]:
    """Every token, revoked ones included, oldest first."""
    return list(session.scalars(select(ApiToken).order_by(ApiToken.created_at, ApiToken.id)))
