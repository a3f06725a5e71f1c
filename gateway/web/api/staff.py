"""Staff API endpoints: who am I, users, tokens, enumerator decisions, the audit log.

Two blueprints, so the OpenAPI document groups them: ``staff`` (``/me``, ``/users``,
``/tokens``, ``/audit``) and ``enumerators``. Every change is one call of a service
(``gateway.staff.services``, ``gateway.enumerators.services``), as the dashboard and the CLI
make it; a refusal is answered with the status and the message the service gives.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import marshmallow as ma
from flask_smorest import abort

from gateway.core.errors import DomainError
from gateway.enumerators.models import EnumeratorStatus
from gateway.enumerators.registrations import (
    list_enumerators,
)
from gateway.enumerators.services import Decision, decide
from gateway.staff.audit import audit_page
from gateway.staff.models import Role
from gateway.staff.services import add_user, issue_token, revoke_api_token
from gateway.staff.tokens import TOKEN_NAME, list_tokens
from gateway.staff.users import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    USERNAME,
    list_users,
)
from gateway.web.api.base import ApiBlueprint, read_session
from gateway.web.auth import current_actor, require_role
from gateway.web.runtime import runtime

staff_blp = ApiBlueprint(
    "staff", __name__, description="Who is calling, users, API tokens, audit log"
)
enumerators_blp = ApiBlueprint(
    "enumerators", __name__, description="Field enumerators: registrations and decisions"
)
BLUEPRINTS = (staff_blp, enumerators_blp)

_ROLE = ma.fields.Enum(Role, by_value=True, required=True)


# -- schemas --------------------------------------------------------------------------------


class MeSchema(ma.Schema):
    """The caller."""

    kind = ma.fields.String(metadata={"description": "'token' or 'user'"})
    name = ma.fields.String()
    role = ma.fields.Enum(Role, by_value=True)


class UserSchema(ma.Schema):
    """A dashboard user (never the password hash)."""

    id = ma.fields.String()
    username = ma.fields.String()
    role = ma.fields.Enum(Role, by_value=True)
    active = ma.fields.Boolean()
    created_at = ma.fields.DateTime()
    last_login_at = ma.fields.DateTime(allow_none=True)


class NewUserSchema(ma.Schema):
    """A user to add."""

    username = ma.fields.String(
        required=True,
        # The pattern, not only the length: the OpenAPI document must say what is accepted.
        # Any case: create_user lowercases it. The pattern is in the OpenAPI document too.
        validate=ma.validate.Regexp(f"^{USERNAME.pattern}$", flags=re.IGNORECASE),
        metadata={"description": "Lowercase letters, digits, . _ -"},
    )
    password = ma.fields.String(
        required=True,
        load_only=True,
        validate=ma.validate.Length(min=MIN_PASSWORD_LENGTH, max=MAX_PASSWORD_LENGTH),
    )
    role = _ROLE


class TokenSchema(ma.Schema):
    """An API token (never its secret or hash)."""

    id = ma.fields.String()
    name = ma.fields.String()
    role = ma.fields.Enum(Role, by_value=True)
    created_at = ma.fields.DateTime()
    created_by = ma.fields.String(allow_none=True)
    revoked_at = ma.fields.DateTime(allow_none=True)
    last_used_at = ma.fields.DateTime(allow_none=True, metadata={"description": "To the minute"})


class IssuedTokenSchema(TokenSchema):
    """A token just made, with its secret: shown this once, never stored."""

    secret = ma.fields.String(metadata={"description": "Send as 'Authorization: Bearer <secret>'"})


class NewTokenSchema(ma.Schema):
    """A token to make."""

    name = ma.fields.String(required=True, validate=ma.validate.Regexp(f"^{TOKEN_NAME.pattern}$"))
    role = _ROLE


class AuditEventSchema(ma.Schema):
    """One audited action."""

    id = ma.fields.Integer()
    at = ma.fields.DateTime()
    actor = ma.fields.String(metadata={"description": "user:<name>, token:<name> or cli"})
    action = ma.fields.String()
    object_type = ma.fields.String()
    object_id = ma.fields.String(allow_none=True)
    detail = ma.fields.String(allow_none=True)


class AuditQuerySchema(ma.Schema):
    """Filters of the audit log."""

    actor = ma.fields.String(validate=ma.validate.Length(max=80))
    action = ma.fields.String(validate=ma.validate.Length(max=64))


class EnumeratorSchema(ma.Schema):
    """An enumerator, with the number masked."""

    id = ma.fields.String()
    status = ma.fields.Enum(EnumeratorStatus, by_value=True)
    code = ma.fields.String(allow_none=True)
    phone_masked = ma.fields.String()
    full_name = ma.fields.String()
    region = ma.fields.String()
    site = ma.fields.String()
    created_at = ma.fields.DateTime()
    decided_at = ma.fields.DateTime(allow_none=True)


class EnumeratorQuerySchema(ma.Schema):
    """Filters of the enumerator list."""

    status = ma.fields.Enum(EnumeratorStatus, by_value=True)


class DecisionSchema(ma.Schema):
    """The enumerator after a decision, and what the decision did."""

    enumerator = ma.fields.Nested(EnumeratorSchema)
    changed = ma.fields.Boolean(
        metadata={"description": "False when the enumerator was already in that status"}
    )
    sms_queued = ma.fields.Boolean(metadata={"description": "True when an approval SMS is queued"})


# -- who am I -------------------------------------------------------------------------------


@staff_blp.route("/me", methods=["GET"])
@require_role(Role.VIEWER)
@staff_blp.response(200, MeSchema)
def me() -> Any:
    """The caller: token name and role."""
    return current_actor()


# -- users ----------------------------------------------------------------------------------


@staff_blp.route("/users", methods=["GET"])
@require_role(Role.ADMIN)
@staff_blp.response(200, UserSchema(many=True))
def users_list() -> Any:
    """Every dashboard user, by username."""
    with read_session() as session:
        return list_users(session)


@staff_blp.route("/users", methods=["POST"])
@require_role(Role.ADMIN)
@staff_blp.arguments(NewUserSchema)
@staff_blp.response(201, UserSchema)
def users_create(data: dict[str, Any]) -> Any:
    """Add a dashboard user."""
    rt = runtime()
    with _refusals():
        return add_user(rt.sessions, current_actor(), hasher=rt.password_hasher, **data)


# -- tokens ---------------------------------------------------------------------------------


@staff_blp.route("/tokens", methods=["GET"])
@require_role(Role.ADMIN)
@staff_blp.response(200, TokenSchema(many=True))
def tokens_list() -> Any:
    """Every API token, revoked ones included, oldest first."""
    with read_session() as session:
        return list_tokens(session)


@staff_blp.route("/tokens", methods=["POST"])
@require_role(Role.ADMIN)
@staff_blp.arguments(NewTokenSchema)
@staff_blp.response(201, IssuedTokenSchema)
def tokens_create(data: dict[str, Any]) -> Any:
    """Make an API token. Its secret is in this answer only: it is not stored."""
    with _refusals():
        issued = issue_token(runtime().sessions, current_actor(), **data)
    fields = {name: getattr(issued.token, name) for name in TokenSchema().fields}
    return {**fields, "secret": issued.secret}


@staff_blp.route("/tokens/<token_id>/revoke", methods=["POST"])
@require_role(Role.ADMIN)
@staff_blp.response(200, TokenSchema)
def tokens_revoke(token_id: str) -> Any:
    """Revoke a token for good; requests with it get 401 from now on."""
    with _refusals():
        return revoke_api_token(runtime().sessions, current_actor(), token_id)


# -- audit log ------------------------------------------------------------------------------


@staff_blp.route("/audit", methods=["GET"])
@require_role(Role.ADMIN)
@staff_blp.arguments(AuditQuerySchema, location="query")
@staff_blp.response(200, AuditEventSchema(many=True))
@staff_blp.paginate(page_size=50, max_page_size=200)
def audit_list(filters: dict[str, Any], pagination_parameters: Any) -> Any:
    """The audit log, newest first; the X-Pagination header tells the total."""
    with read_session() as session:
        total, events = audit_page(
            session,
            actor=filters.get("actor"),
            action=filters.get("action"),
            offset=pagination_parameters.first_item,
            limit=pagination_parameters.page_size,
        )
    pagination_parameters.item_count = total
    return events


# -- enumerators ----------------------------------------------------------------------------


@enumerators_blp.route("/enumerators", methods=["GET"])
@require_role(Role.MANAGER)
@enumerators_blp.arguments(EnumeratorQuerySchema, location="query")
@enumerators_blp.response(200, EnumeratorSchema(many=True))
def enumerators_list(filters: dict[str, Any]) -> Any:
    """Enumerators, oldest registration first, all or those in one status."""
    with read_session() as session:
        return list_enumerators(session, filters.get("status"))


def _decide(ident: str, decision: Decision) -> dict[str, Any]:
    with _refusals():
        done = decide(runtime(), current_actor(), ident, decision)
    return {"enumerator": done.enumerator, "changed": done.changed, "sms_queued": done.sms_queued}


# POST /enumerators/<ident>/approve (and reject, revoke): views enumerators_approve, ...
enumerators_blp.action_routes(
    "/enumerators/<ident>/{action}",
    Role.MANAGER,
    DecisionSchema,
    {
        "approve": "Approve a registration (or a revoked enumerator) and text them their code."
        "\n\n``ident`` is the enumerator's id (or its first 8 characters) or code.",
        "reject": "Turn down a pending registration.",
        "revoke": "Withdraw an approval: from the next dial, the number is a household again.",
    },
    _decide,  # type: ignore[arg-type]  # the actions are those of Decision
)


@contextmanager
def _refusals() -> Iterator[None]:
    """A refused request (unknown id, name taken, wrong status) as a JSON error, its status
    the one the service gave."""
    try:
        yield
    except DomainError as exc:
        abort(exc.status, message=str(exc))
