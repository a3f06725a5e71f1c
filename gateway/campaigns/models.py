"""The campaign tables: campaigns, the contacts of their audiences, and the imports of lists.

A contact's number is stored encrypted (``campaign_contacts.phone_encrypted``), because its
invitation must be sent to it, and masked for display. The declarative base and column types
are in ``gateway.core.models``; the campaign domain that works on these rows is in
``gateway.campaigns.definition``.
"""

from __future__ import annotations

from datetime import datetime, time
from enum import StrEnum

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, Time, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.core.clock import new_id, utc_now
from gateway.core.models import Base, UTCDateTime, enum_column


class CampaignChannel(StrEnum):
    """How a campaign reaches its contacts.

    ``sms``: the invitation is the survey's first question, and the survey runs by SMS.
    ``ussd``: the invitation is an SMS asking the household to dial the USSD code.
    """

    SMS = "sms"
    USSD = "ussd"


class CampaignStatus(StrEnum):
    """Where a campaign stands; only a ``running`` campaign sends invitations."""

    DRAFT = "draft"
    RUNNING = "running"
    PAUSED = "paused"
    CANCELLED = "cancelled"
    COMPLETED = "completed"  # every contact was invited (or skipped); their runs go on


class ContactStatus(StrEnum):
    """What became of one contact's invitation."""

    QUEUED = "queued"
    # Claimed by the fan-out: the invitation may have gone. A fan-out that finds a contact here
    # (its worker died) sends again under the same key, which sends nothing twice.
    SENDING = "sending"
    SENT = "sent"  # handed to the outbox (the message's own status says whether it arrived)
    FAILED = "failed"  # no invitation could be made (e.g. the number cannot be decrypted)
    OPTED_OUT = "opted_out"  # sent STOP before the invitation was due
    SKIPPED = "skipped"  # had already completed the survey


class Campaign(Base):
    """A survey staff send to a list of numbers, paced and within daily hours."""

    __tablename__ = "campaigns"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100))
    flow: Mapped[str] = mapped_column(String(64))
    channel: Mapped[CampaignChannel] = mapped_column(
        enum_column(CampaignChannel, "campaign_channel", length=8)
    )
    status: Mapped[CampaignStatus] = mapped_column(
        enum_column(CampaignStatus, "campaign_status", length=16),
        default=CampaignStatus.DRAFT,
    )
    # No invitation before this moment; None: as soon as the campaign is started.
    start_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Invitations go out only between these local times of ``timezone`` (an IANA zone name).
    window_start: Mapped[time] = mapped_column(Time())
    window_end: Mapped[time] = mapped_column(Time())
    timezone: Mapped[str] = mapped_column(String(64))
    # Invitations per second, across all workers.
    throttle: Mapped[float] = mapped_column(Float())
    # Reminders of each unanswered question of the campaign's runs (they override the flow's).
    reminder_count: Mapped[int] = mapped_column(Integer)
    reminder_interval_hours: Mapped[int] = mapped_column(Integer)
    # How long a run started by an invitation may be answered (overrides the flow's expiry).
    expiry_hours: Mapped[int] = mapped_column(Integer)
    retention_days: Mapped[int | None] = mapped_column(Integer)
    # A repeating campaign invites its audience again every ``repeat_days`` days, a wave at a
    # time, for ``repeat_waves`` waves in all (the first included) or until ``repeat_until``.
    # None: a one-shot campaign (a single wave).
    repeat_days: Mapped[int | None] = mapped_column(Integer)
    repeat_waves: Mapped[int | None] = mapped_column(Integer)
    repeat_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The wave being sent (the latest opened), and when the next one opens (None: no other).
    wave: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    next_wave_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Who made it, as the audit log names actors ("user:alice", "token:deploy", "cli").
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CampaignContact(Base):
    """One number of a campaign's audience: encrypted, masked for display, and its invitation.

    ``row_number`` is where the number was in the imported list (the CSV header is row 1), so
    staff can find it in their file. ``run_id`` is the survey run the invitation led to: the
    run it started (SMS), or the first run the household started after it (USSD). A repeating
    campaign has a row per wave for each number: ``wave`` says which invitation this is.
    """

    __tablename__ = "campaign_contacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    campaign_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("campaigns.id", ondelete="CASCADE")
    )
    row_number: Mapped[int] = mapped_column(Integer)
    wave: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    respondent_id: Mapped[str] = mapped_column(String(64), index=True)
    phone_encrypted: Mapped[str] = mapped_column(Text)
    phone_masked: Mapped[str] = mapped_column(String(20))
    language: Mapped[str | None] = mapped_column(String(8))
    region: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[ContactStatus] = mapped_column(
        enum_column(ContactStatus, "contact_status", length=16),
        default=ContactStatus.QUEUED,
    )
    # The invitation in the outbox. No foreign key: the row is written by a job after this one,
    # and erasing a respondent's messages must not need this table.
    message_id: Mapped[str | None] = mapped_column(String(36))
    run_id: Mapped[str | None] = mapped_column(String(36), index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        # One invitation per person per wave: a number listed twice is dropped at import.
        UniqueConstraint("campaign_id", "wave", "respondent_id"),
        # The fan-out takes the next queued contacts of a campaign, in list order.
        Index("ix_campaign_contacts_campaign_id_status_id", "campaign_id", "status", "id"),
    )


class ImportStatus(StrEnum):
    """Where the import of an uploaded list stands."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # the list could not be read (the reason is kept): nothing was added


class CampaignImport(Base):
    """One list uploaded to a campaign, imported by a worker, and what the import did.

    The counts and ``invalid`` (JSON: ``[row number, reason, message key, values]`` for the
    first invalid rows, numbers masked) are the import report; ``problem`` (JSON:
    ``[reason, message key, values]``) says why a failed import read nothing.
    """

    __tablename__ = "campaign_imports"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    campaign_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[ImportStatus] = mapped_column(
        enum_column(ImportStatus, "import_status", length=8), default=ImportStatus.QUEUED
    )
    # "csv", or "json" for a list given as JSON to the API.
    format: Mapped[str] = mapped_column(String(8))
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    opted_out: Mapped[int] = mapped_column(Integer, default=0)
    invalid_count: Mapped[int] = mapped_column(Integer, default=0)
    invalid: Mapped[str | None] = mapped_column(Text)
    problem: Mapped[str | None] = mapped_column(Text)


class CampaignImportPart(Base):
    """A piece of an uploaded list waiting for its import, encrypted (a Fernet token).

    The list holds numbers in clear, so it waits encrypted, in the database (a worker may run
    on another machine than the web process), and is deleted once its import ends.
    """

    __tablename__ = "campaign_import_parts"

    import_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("campaign_imports.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    data: Mapped[str] = mapped_column(Text)
