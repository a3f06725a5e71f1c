"""The refusal every staff-account operation raises: a user, a token or a credential."""

from __future__ import annotations

from gateway.core.errors import DomainError


class StaffError(DomainError):
    """A staff request that cannot be done: a user, a token or a credential."""
