"""The guard on API views: a live bearer token whose role is high enough, or a JSON error.

Tokens themselves (made, verified, revoked) are in ``gateway.staff.tokens``; this module reads
the request, counts unknown secrets per address, and refuses with 401, 403 or 429.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Literal, NoReturn, TypeVar, cast

from flask import g, request
from flask_smorest import Blueprint, abort
from redis import Redis

from gateway.staff.actors import Actor
from gateway.staff.errors import StaffError
from gateway.staff.models import Role
from gateway.staff.tokens import is_revoked, verify_token
from gateway.web.runtime import runtime

__all__ = ["BEARER_SCHEME", "authenticate", "current_actor", "require_role"]

# The name of the security scheme in the OpenAPI document (see gateway.web.api.base).
BEARER_SCHEME = "bearerAuth"
# Unknown bearer secrets from one client address: past TOKEN_ATTEMPTS within TOKEN_WINDOW_S of
# the first, every bearer request from that address is answered 429 until the window ends,
# even one with a good token (telling it apart would tell a guesser the guess was right). A
# revoked token is not a guess (its holder had it), so it is refused but not counted.
TOKEN_ATTEMPTS = 20
TOKEN_WINDOW_S = 60

F = TypeVar("F", bound=Callable[..., Any])


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
            g.actor = authenticate(role)
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


def authenticate(role: Role) -> Actor:
    """The actor of the request's bearer token, if its role includes ``role``; else a JSON
    401, 403 or 429 (raised)."""
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret:
        _refuse(401, "this needs an API token: send the header 'Authorization: Bearer <token>'")
    rt = runtime()
    failures_key = f"sg:auth:fail:{(request.remote_addr or 'unknown')[:64]}"
    _check_token_attempts(rt.redis, failures_key)
    with rt.sessions.begin() as session:
        try:
            token = verify_token(session, secret)
        except StaffError as exc:
            if exc.status == 401 and not is_revoked(session, secret):
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
