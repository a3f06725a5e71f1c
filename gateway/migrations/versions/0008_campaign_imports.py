"""An uploaded list waits, encrypted, for a worker to import it; the import keeps its report.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 03:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here, not imported from gateway.core.models: a migration must not change when models do.
IMPORT_STATUSES = ("queued", "running", "done", "failed")


def upgrade() -> None:
    """Upgrade the schema: add campaign_imports and campaign_import_parts."""
    statuses = ", ".join(repr(s) for s in IMPORT_STATUSES)
    op.create_table(
        "campaign_imports",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("campaign_id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("created_by", sa.String(80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("opted_out", sa.Integer(), nullable=False),
        sa.Column("invalid_count", sa.Integer(), nullable=False),
        sa.Column("invalid", sa.Text(), nullable=True),
        sa.Column("problem", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_imports")),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_imports_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(
            f"status IN ({statuses})", name=op.f("ck_campaign_imports_import_status")
        ),
    )
    op.create_index(
        op.f("ix_campaign_imports_campaign_id"), "campaign_imports", ["campaign_id"], unique=False
    )
    op.create_table(
        "campaign_import_parts",
        sa.Column("import_id", sa.String(36), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("import_id", "seq", name=op.f("pk_campaign_import_parts")),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["campaign_imports.id"],
            name=op.f("fk_campaign_import_parts_import_id_campaign_imports"),
            ondelete="CASCADE",
        ),
    )


def downgrade() -> None:
    """Downgrade the schema: uploads still waiting are dropped with their imports."""
    op.drop_table("campaign_import_parts")
    op.drop_index(op.f("ix_campaign_imports_campaign_id"), table_name="campaign_imports")
    op.drop_table("campaign_imports")
