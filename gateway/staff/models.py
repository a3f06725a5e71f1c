"""The staff tables: dashboard users, API tokens, the roles they hold, and the audit log.

A role (``viewer`` < ``manager`` < ``admin``) is stored on both users and tokens; what each
may do is checked by the API (``gateway.web.auth``) and the dashboard
(``gateway.web.dashboard.base``). The audit log is append-only: the ORM refuses to change
or delete an event. The declarative base and column types are in ``gateway.core.models``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, Enum, Integer, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column

from gateway.core.clock import new_id, utc_now
from gateway.core.models import Base, UTCDateTime, enum_column


class Role(StrEnum):
    """What a staff member or API token may do; each role may do all the roles below it do.

    ``viewer`` reads results, ``manager`` also decides on enumerators and runs campaigns,
    ``admin`` also manages staff accounts, API tokens and reads the audit log.
    """

    VIEWER = "viewer"
    MANAGER = "manager"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        """The role's place in the hierarchy: viewer 0, manager 1, admin 2."""
        return _ROLE_ORDER.index(self)

    def includes(self, required: Role) -> bool:
        """True when this role may do what ``required`` may (admin includes manager)."""
        return self.rank >= required.rank


_ROLE_ORDER = (Role.VIEWER, Role.MANAGER, Role.ADMIN)


def _role_column() -> Enum:
    # One definition for both tables; the CHECK is named after the table (ck_<table>_staff_role).
    return enum_column(Role, "staff_role", length=16)


class User(Base):
    """A staff member who signs in to the dashboard; the password is kept as an argon2 hash."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(_role_column())
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ApiToken(Base):
    """A bearer token for the API; only the SHA-256 of its secret is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(64))
    # Hex SHA-256 of the secret: the secret is high-entropy, so a slow hash would add nothing,
    # and an exact-match lookup on the hash compares no secret byte by byte.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[Role] = mapped_column(_role_column())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Who made it, as the audit log names actors ("user:alice", "token:deploy", "cli").
    created_by: Mapped[str | None] = mapped_column(String(80))


class AuditEvent(Base):
    """One thing a staff member, token or the CLI did; rows are only ever added.

    ``detail`` is free text for people, never a phone number (``gateway.staff.audit`` masks any).
    """

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now, index=True)
    actor: Mapped[str] = mapped_column(String(80), index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)


@event.listens_for(AuditEvent, "before_update")
@event.listens_for(AuditEvent, "before_delete")
def _audit_is_append_only(*_args: object) -> None:
    # A log its subjects can rewrite proves nothing; ORM code may add rows, never change them.
    raise ValueError("audit events are append-only: they are never changed or deleted")
