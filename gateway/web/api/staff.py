"""Staff API endpoints: who am I, users, tokens, enumerator decisions, the audit log.

Two blueprints, so the OpenAPI document groups them: ``staff`` (``/me``, ``/users``,
``/tokens``, ``/audit``) and ``enumerators``. Decisions on enumerators go through
``gateway.enumerators.registrations`` exactly as ``survey-gateway enumerators`` does: one
transaction (with its
audit event), then the Redis marker and, for an approval, the SMS job.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import marshmallow as ma
from flask_smorest import abort
from sqlalchemy.exc import IntegrityError

from gateway.enumerators.models import EnumeratorStatus
from gateway.enumerators.registrations import (
    ENUMERATOR_FLOW,
    EnumeratorError,
    approve,
    find_enumerator,
    list_enumerators,
    redis_marker,
    reject,
    revoke,
)
from gateway.staff.audit import audit, audit_page
from gateway.staff.auth import TOKEN_NAME, Role, StaffError, create_token, list_tokens, revoke_token
from gateway.staff.users import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    USERNAME,
    create_user,
    list_users,
)
from gateway.web.api.base import ApiBlueprint, read_session, write_session
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
    with _staff_errors(), write_session() as session:
        return create_user(session, actor=current_actor(), hasher=runtime().password_hasher, **data)


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
    with _staff_errors(), write_session() as session:
        issued = create_token(session, actor=current_actor(), **data)
    fields = {name: getattr(issued.token, name) for name in TokenSchema().fields}
    return {**fields, "secret": issued.secret}


@staff_blp.route("/tokens/<token_id>/revoke", methods=["POST"])
@require_role(Role.ADMIN)
@staff_blp.response(200, TokenSchema)
def tokens_revoke(token_id: str) -> Any:
    """Revoke a token for good; requests with it get 401 from now on."""
    with _staff_errors(), write_session() as session:
        return revoke_token(session, token_id, actor=current_actor())


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


@enumerators_blp.route("/enumerators/<ident>/approve", methods=["POST"])
@require_role(Role.MANAGER)
@enumerators_blp.response(200, DecisionSchema)
def enumerators_approve(ident: str) -> Any:
    """Approve a registration (or a revoked enumerator) and text them their code.

    ``ident`` is the enumerator's id (or its first 8 characters) or code.
    """
    return _decide(ident, "approve")


@enumerators_blp.route("/enumerators/<ident>/reject", methods=["POST"])
@require_role(Role.MANAGER)
@enumerators_blp.response(200, DecisionSchema)
def enumerators_reject(ident: str) -> Any:
    """Turn down a pending registration."""
    return _decide(ident, "reject")


@enumerators_blp.route("/enumerators/<ident>/revoke", methods=["POST"])
@require_role(Role.MANAGER)
@enumerators_blp.response(200, DecisionSchema)
def enumerators_revoke(ident: str) -> Any:
    """Withdraw an approval: from the next dial, the number is a household again."""
    return _decide(ident, "revoke")


def _decide(ident: str, decision: Literal["approve", "reject", "revoke"]) -> dict[str, Any]:
    rt = runtime()
    message_id: str | None = None
    with write_session() as session:
        try:
            enumerator = find_enumerator(session, ident)
        except EnumeratorError as exc:
            abort(404, message=str(exc))
        before = enumerator.status
        try:
            if decision == "approve":
                approval = approve(session, enumerator.id, rt.cipher, rt.flows[ENUMERATOR_FLOW])
                message_id = approval.message_id
            elif decision == "reject":
                reject(session, enumerator.id)
            else:
                revoke(session, enumerator.id)
        except EnumeratorError as exc:
            abort(409, message=str(exc))
        changed = enumerator.status is not before
        if changed:
            code = f", code {enumerator.code}" if enumerator.code else ""
            audit(
                session,
                current_actor(),
                f"enumerator.{decision}",
                "enumerator",
                enumerator.id,
                f"{before} -> {enumerator.status}{code}",
            )
    # As the CLI does: only once committed, the live marker and the SMS.
    rt.store.set_enumerator(enumerator.respondent_id, redis_marker(enumerator))
    if message_id is not None:
        rt.jobs.send_message(message_id)
    return {"enumerator": enumerator, "changed": changed, "sms_queued": message_id is not None}


@contextmanager
def _staff_errors() -> Iterator[None]:
    """StaffError as a JSON error with its status; a lost race on a unique name as 409."""
    try:
        yield
    except StaffError as exc:
        abort(exc.status, message=str(exc))
    except IntegrityError:
        abort(409, message="this conflicts with a change made at the same time: try again")
