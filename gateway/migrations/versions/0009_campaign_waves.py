"""Repeating campaigns: a campaign may invite its audience again in waves, every few days.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 12:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_UNIQUE = "uq_campaign_contacts_campaign_id_respondent_id"
_NEW_UNIQUE = "uq_campaign_contacts_campaign_id_wave_respondent_id"


def upgrade() -> None:
    """Upgrade the schema: the repeat of a campaign, and the wave of each invitation."""
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("repeat_days", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("repeat_waves", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("repeat_until", sa.DateTime(timezone=True), nullable=True))
        # Every campaign stored before is a one-shot one: its single wave is the first.
        batch.add_column(sa.Column("wave", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("next_wave_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("campaign_contacts") as batch:
        batch.add_column(sa.Column("wave", sa.Integer(), nullable=False, server_default="1"))
        batch.drop_constraint(_OLD_UNIQUE, type_="unique")
        batch.create_unique_constraint(_NEW_UNIQUE, ["campaign_id", "wave", "respondent_id"])


def downgrade() -> None:
    """Downgrade the schema: the later waves' invitations go, the first wave's stay."""
    op.execute("DELETE FROM campaign_contacts WHERE wave > 1")
    with op.batch_alter_table("campaign_contacts") as batch:
        batch.drop_constraint(_NEW_UNIQUE, type_="unique")
        batch.create_unique_constraint(_OLD_UNIQUE, ["campaign_id", "respondent_id"])
        batch.drop_column("wave")
    # Columns dropped in place: SQLite's copy-and-rename of a table would drop the old
    # campaigns table, and with it (ON DELETE CASCADE) every campaign's contacts and imports.
    with op.batch_alter_table("campaigns", recreate="never") as batch:
        for column in ("next_wave_at", "wave", "repeat_until", "repeat_waves", "repeat_days"):
            batch.drop_column(column)
