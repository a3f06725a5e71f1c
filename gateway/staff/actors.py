"""Who a staff request acts as: an API token or a signed-in dashboard user, with its role.

The audit log names actors by :attr:`Actor.label`; the command line and the workers, which have
no role, are plain names (``gateway.staff.audit.CLI_ACTOR``, ``WORKER_ACTOR``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gateway.staff.models import ApiToken, Role, User


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
