"""Campaigns: surveys staff send to a list of numbers, and the contacts of each.

Revision ID: 0005
Revises: 0004
Create Date: 2025-03-15 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here, not imported from gateway.core.models: a migration must not change when models do.
CHANNELS = ("sms", "ussd")
CAMPAIGN_STATUSES = ("draft", "running", "paused", "cancelled", "completed")
CONTACT_STATUSES = ("queued", "sending", "sent", "failed", "opted_out", "skipped")
FAN_OUT_INDEX = "ix_campaign_contacts_campaign_id_status_id"


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    """Upgrade the schema: add campaigns and campaign_contacts."""
    op.create_table(
        "campaigns",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("flow", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("window_start", sa.Time(), nullable=False),
        sa.Column("window_end", sa.Time(), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("throttle", sa.Float(), nullable=False),
        sa.Column("reminder_count", sa.Integer(), nullable=False),
        sa.Column("reminder_interval_hours", sa.Integer(), nullable=False),
        sa.Column("expiry_hours", sa.Integer(), nullable=False),
        sa.Column("retention_days", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
        sa.CheckConstraint(_in("channel", CHANNELS), name=op.f("ck_campaigns_campaign_channel")),
        sa.CheckConstraint(
            _in("status", CAMPAIGN_STATUSES), name=op.f("ck_campaigns_campaign_status")
        ),
    )

    op.create_table(
        "campaign_contacts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("campaign_id", sa.String(36), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("respondent_id", sa.String(64), nullable=False),
        sa.Column("phone_encrypted", sa.Text(), nullable=False),
        sa.Column("phone_masked", sa.String(20), nullable=False),
        sa.Column("language", sa.String(8), nullable=True),
        sa.Column("region", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("message_id", sa.String(36), nullable=True),
        sa.Column("run_id", sa.String(36), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_contacts")),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_contacts_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "campaign_id",
            "respondent_id",
            name=op.f("uq_campaign_contacts_campaign_id_respondent_id"),
        ),
        sa.CheckConstraint(
            _in("status", CONTACT_STATUSES), name=op.f("ck_campaign_contacts_contact_status")
        ),
    )
    op.create_index(
        op.f("ix_campaign_contacts_respondent_id"), "campaign_contacts", ["respondent_id"]
    )
    op.create_index(op.f("ix_campaign_contacts_run_id"), "campaign_contacts", ["run_id"])
    op.create_index(
        op.f(FAN_OUT_INDEX), "campaign_contacts", ["campaign_id", "status", "id"], unique=False
    )


def downgrade() -> None:
    """Downgrade the schema: campaigns and their contacts go."""
    op.drop_index(op.f(FAN_OUT_INDEX), table_name="campaign_contacts")
    op.drop_index(op.f("ix_campaign_contacts_run_id"), table_name="campaign_contacts")
    op.drop_index(op.f("ix_campaign_contacts_respondent_id"), table_name="campaign_contacts")
    op.drop_table("campaign_contacts")
    op.drop_table("campaigns")
