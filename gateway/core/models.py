"""What every table of the gateway shares: the declarative base and its column types.

Each domain owns its tables: ``gateway.surveys.models`` (respondents, submissions, answers,
opt-outs), ``gateway.messaging.models`` (the outbox, ``messages``),
``gateway.enumerators.models``, ``gateway.campaigns.models``, ``gateway.staff.models`` and
``gateway.reports.models``.
``Base.metadata`` holds every table once those are imported (``gateway/migrations/env.py``
imports them all).

The schema itself is made by the migrations in ``gateway/migrations``; a test checks that the
two agree. A respondent appears only as a pseudonym; a phone number appears only in
``messages.to_encrypted``, ``enumerators.phone_encrypted`` and
``campaign_contacts.phone_encrypted``, encrypted, because a message must be sent to it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import DateTime, Dialect, Enum, MetaData, TypeDecorator
from sqlalchemy.orm import DeclarativeBase

# Every constraint gets a predictable name, so later migrations (and SQLite batch mode,
# which rebuilds tables) can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is stored and read back as timezone-aware UTC on every database.

    SQLite has no time zones and would hand back naive datetimes; PostgreSQL hands back the
    session's zone. Naive datetimes are refused on the way in: their zone is a guess.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert to UTC before storing; refuse naive datetimes."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: use a timezone-aware UTC datetime")
        value = value.astimezone(UTC)
        # SQLite stores the text as given; without the zone every row compares alike.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return an aware UTC datetime whatever the database handed back."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def enum_column(enum: type[StrEnum], name: str, *, length: int) -> Enum:
    """The column type of a status: its values as text, checked by a CHECK constraint."""
    return Enum(
        enum,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=length,
        values_callable=_enum_values,
        validate_strings=True,
    )


def _enum_values(enum: type[StrEnum]) -> list[str]:
    # Store "started", not the member name "STARTED": the values are what people query.
    return [member.value for member in enum]


class Base(DeclarativeBase):
    """The one declarative base of the gateway's models."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
