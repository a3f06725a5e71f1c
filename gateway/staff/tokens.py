"""API tokens: the staff credential of scripts and the API (``Authorization: Bearer <secret>``).

The secret is ``secrets.token_urlsafe(32)``, shown once when made; only its SHA-256 is stored.
A token is found by its hash, so no secret is ever compared byte by byte. The guard that checks
a request's token is ``gateway.web.auth.require_role``; a person issues and revokes tokens
through ``gateway.staff.services``.

Functions that change rows take a SQLAlchemy session, write their audit event in it, and leave
committing to the caller.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core.clock import utc_now
from gateway.core.i18n import Translatable
from gateway.core.lookup import rows_by_id
from gateway.staff.audit import NamedActor, audit
from gateway.staff.errors import StaffError
from gateway.staff.models import ApiToken, Role

# last_used_at is for people ("is this token still in use?"): to the minute is enough, and it
# spares a database write on every request of a busy script.
LAST_USED_RESOLUTION = timedelta(minutes=1)
TOKEN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._:-]{0,63}")


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
        raise StaffError(Translatable("staff_error.token_name_format"))
    clash = session.scalars(
        select(ApiToken.id).where(ApiToken.name == name, ApiToken.revoked_at.is_(None))
    ).first()
    if clash is not None:
        # The audit log names a token by its name: two live tokens must not share one.
        raise StaffError(Translatable("staff_error.token_name_taken", name=name), status=409)
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
    raise StaffError(Translatable("staff_error.unknown_token", ident=ident), status=404)


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


def is_revoked(session: Session, secret: str) -> bool:
    """True when the secret is a token's that was revoked (its holder had it: not a guess)."""
    found = session.scalars(
        select(ApiToken.id).where(
            ApiToken.token_hash == hash_token(secret), ApiToken.revoked_at.is_not(None)
        )
    ).first()
    return found is not None


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
