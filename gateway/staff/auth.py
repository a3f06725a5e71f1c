"""Staff identities: who a request acts as, API tokens, and the guard on API views.

**API tokens** (``Authorization: Bearer <secret>``) are the staff credential of scripts and
the API. The secret is ``secrets.token_urlsafe(32)``, shown once when made; only its SHA-256 is
stored. A token is found by its hash, so no secret is ever compared byte by byte. The other
credential, a dashboard user's password, is in ``gateway.staff.users``.

Roles are hierarchical (``viewer`` < ``manager`` < ``admin``): a view guarded with
``require_role(Role.MANAGER)`` lets managers and admins in. Functions that change rows take a
SQLAlchemy session, write their audit event in it, and leave committing to the caller.
"""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, NoReturn, TypeVar, cast

from flask import current_app, g, request
from flask_smorest import Blueprint, abort
from redis import Redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core.errors import DomainError
from gateway.core.lookup import rows_by_id
from gateway.core.models import utcnow
from gateway.staff.audit import NamedActor, audit
from gateway.staff.models import ApiToken, Role, User

__all__ = [
    "BEARER_SCHEME",
    "Actor",
    "IssuedToken",
    "Role",
    "StaffError",
    "create_token",
    "current_actor",
    "find_token",
    "hash_token",
    "require_role",
    "revoke_token",
    "verify_token",
]

# The name of the security scheme in the OpenAPI document (see gateway.web.api.base).
BEARER_SCHEME = "bearerAuth"
# last_used_at is for people ("is this token still in use?"): to the minute is enough, and it
# spares a database write on every request of a busy script.
LAST_USED_RESOLUTION = timedelta(minutes=1)
TOKEN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._:-]{0,63}")
# Unknown bearer secrets from one client address: past TOKEN_ATTEMPTS within TOKEN_WINDOW_S of
# the first, every bearer request from that address is answered 429 until the window ends,
# even one with a good token (telling it apart would tell a guesser the guess was right). A
# revoked token is not a guess (its holder had it), so it is refused but not counted.
TOKEN_ATTEMPTS = 20
TOKEN_WINDOW_S = 60

F = TypeVar("F", bound=Callable[..., Any])


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
    now = now or utcnow()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        token.last_used_at = now
    return token


def revoke_token(
    session: Session, ident: str, *, actor: NamedActor | str, now: datetime | None = None
) -> ApiToken:
    """Revoke a token for good; revoking a revoked token changes (and audits) nothing."""
    token = find_token(session, ident)
    if token.revoked_at is None:
        token.revoked_at = now or utcnow()
        session.flush()
        audit(session, actor, "token.revoke", "api_token", token.id, f"name={token.name}")
    return token


def list_tokens(session: Session) -> list[ApiToken]:
    """Every token, revoked ones included, oldest first."""
    return list(session.scalars(select(ApiToken).order_by(ApiToken.created_at, ApiToken.id)))


# -- the API guard --------------------------------------------------------------------------


def require_role(role: Role) -> Callable[[F], F]:
    """Guard an API view: a live bearer token whose role includes ``role``, or a JSON error.

    401 when the token is missing, unknown or revoked; 403 when its role is too low. The actor
    is put on ``flask.g.actor`` (see :func:`current_actor`). Put it above ``@blp.arguments``
    so that nobody learns anything about a request body before they are authenticated::

        @blp.route("/campaigns")
        class Campaigns(MethodView):
            @require_role(Role.MANAGER)
            @blp.arguments(CampaignIn)
            @blp.response(201, CampaignOut)
            def post(self, data): ...
    """

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            g.actor = _authenticate_request(role)
            return view(*args, **kwargs)

        # Documents the scheme and the two refusals in the OpenAPI document.
        documented = Blueprint.doc(
            security=[{BEARER_SCHEME: []}],
            responses={
                401: _error_response("Missing, unknown or revoked bearer token"),
                403: _error_response(f"The token's role is below {role}"),
                429: _error_response("Too many unknown tokens from this address; see Retry-After"),
            },
        )(guarded)
        return cast(F, documented)

    return decorate


def current_actor() -> Actor:
    """The actor of the current API request, as :func:`require_role` found it."""
    actor: Actor = g.actor
    return actor


def _authenticate_request(role: Role) -> Actor:
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret:
        _refuse(401, "this needs an API token: send the header 'Authorization: Bearer <token>'")
    rt = current_app.extensions["gateway"]
    failures_key = f"sg:auth:fail:{(request.remote_addr or 'unknown')[:64]}"
    _check_token_attempts(rt.redis, failures_key)
    with rt.sessions.begin() as session:
        try:
            token = verify_token(session, secret)
        except StaffError as exc:
            if exc.status == 401 and not _is_revoked(session, secret):
                _count_token_failure(rt.redis, failures_key)
            _refuse(401, str(exc))
        actor = Actor.for_token(token)
    if not actor.may(role):
        _refuse(
            403, f"this needs the {role} role or above; the token '{actor.name}' is {actor.role}"
        )
    return actor


def _check_token_attempts(client: Redis, key: str) -> None:
    """429 with Retry-After while the address has used up its unknown-token attempts."""
    with client.pipeline() as pipe:
        pipe.get(key)
        pipe.ttl(key)
        count, ttl = pipe.execute()
    if count is not None and int(count) >= TOKEN_ATTEMPTS:
        wait = max(int(ttl), 1)
        _refuse(
            429,
            f"too many unknown API tokens from this address: try again in {wait} seconds",
            retry_after=wait,
        )


def _count_token_failure(client: Redis, key: str) -> None:
    # The window starts at the first failure (SET NX) and INCR keeps its expiry.
    with client.pipeline() as pipe:
        pipe.set(key, 0, ex=TOKEN_WINDOW_S, nx=True)
        pipe.incr(key)
        pipe.execute()


def _is_revoked(session: Session, secret: str) -> bool:
    found = session.scalars(
        select(ApiToken.id).where(
            ApiToken.token_hash == hash_token(secret), ApiToken.revoked_at.is_not(None)
        )
    ).first()
    return found is not None


def _refuse(
    status: Literal[401, 403, 429], message: str, *, retry_after: int | None = None
) -> NoReturn:
    headers = {}
    if status == 401:
        # RFC 6750: tells a client which scheme to use.
        headers["WWW-Authenticate"] = 'Bearer realm="survey-gateway"'
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    abort(status, message=message, headers=headers)
    raise AssertionError("abort returned")  # abort always raises; this is for the type checker


def _error_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
