"""Enumerators' field reports about places, with the reference they are withdrawn by.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 13:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade the schema: add reports."""
    op.create_table(
        "reports",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("reference", sa.String(12), nullable=False),
        sa.Column("enumerator_id", sa.String(36), nullable=True),
        sa.Column("enumerator_code", sa.String(12), nullable=False),
        sa.Column("flow", sa.String(64), nullable=False),
        sa.Column("flow_version", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("answers_json", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports")),
        sa.ForeignKeyConstraint(
            ["enumerator_id"],
            ["enumerators.id"],
            name=op.f("fk_reports_enumerator_id_enumerators"),
            ondelete="SET NULL",
        ),
    )
    for column in ("reference", "enumerator_id", "enumerator_code", "flow", "received_at"):
        op.create_index(op.f(f"ix_reports_{column}"), "reports", [column], unique=False)


def downgrade() -> None:
    """Downgrade the schema: drop reports."""
    op.drop_table("reports")
