"""Messages know the campaign they belong to, so sends are paced at AT's door.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade the schema: ``messages.campaign_id``, empty for messages sent before it."""
    # A plain column, not a foreign key: a message outlives nothing by it, and the send path
    # reads it only to find the campaign's throttle.
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("campaign_id", sa.String(36), nullable=True))


def downgrade() -> None:
    """Downgrade the schema."""
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("campaign_id")
