"""Staff identities in one place: the actor a request or command acts as, and API tokens.

The pieces live in ``gateway.staff.actors``, ``gateway.staff.tokens`` and
``gateway.staff.errors``; the guard on API views that checks a request's token and role is
``gateway.web.auth.require_role``. Nothing here needs Flask.
"""

from __future__ import annotations

from gateway.staff.actors import Actor
from gateway.staff.errors import StaffError
from gateway.staff.models import Role
from gateway.staff.tokens import (
    TOKEN_NAME,
    IssuedToken,
    create_token,
    find_token,
    hash_token,
    is_revoked,
    list_tokens,
    revoke_token,
    verify_token,
)

__all__ = [
    "TOKEN_NAME",
    "Actor",
    "IssuedToken",
    "Role",
    "StaffError",
    "create_token",
    "find_token",
    "hash_token",
    "is_revoked",
    "list_tokens",
    "revoke_token",
    "verify_token",
]
