"""Enumerators and opt-outs; submissions note the enumerator who took them.

Revision ID: 0003
Revises: 0002
Create Date: 2025-02-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here, not imported from gateway.core.models: a migration must not change when models do.
ENUMERATOR_STATUSES = ("pending", "approved", "rejected", "revoked")
ENUMERATOR_CODE_INDEX = "ix_submissions_enumerator_code"


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    """Upgrade the schema: add enumerators, opt_outs and submissions.enumerator_code."""
    op.create_table(
        "enumerators",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("respondent_id", sa.String(64), nullable=False),
        sa.Column("phone_encrypted", sa.Text(), nullable=False),
        sa.Column("phone_masked", sa.String(20), nullable=False),
        sa.Column("full_name", sa.String(60), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("site", sa.String(40), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("code", sa.String(12), nullable=True),
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enumerators")),
        sa.UniqueConstraint("respondent_id", name=op.f("uq_enumerators_respondent_id")),
        sa.UniqueConstraint("code", name=op.f("uq_enumerators_code")),
        sa.UniqueConstraint("run_id", name=op.f("uq_enumerators_run_id")),
        sa.CheckConstraint(
            _in("status", ENUMERATOR_STATUSES), name=op.f("ck_enumerators_enumerator_status")
        ),
    )

    op.create_table(
        "opt_outs",
        sa.Column("respondent_id", sa.String(64), nullable=False),
        sa.Column("opted_out_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("respondent_id", name=op.f("pk_opt_outs")),
    )

    # Batch mode: SQLite rebuilds the table (keeping its named constraints); PostgreSQL gets
    # a plain ALTER TABLE.
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(sa.Column("enumerator_code", sa.String(12), nullable=True))
    op.create_index(op.f(ENUMERATOR_CODE_INDEX), "submissions", ["enumerator_code"], unique=False)


def downgrade() -> None:
    """Downgrade the schema: enumerators, opt-outs and the enumerator of each submission go."""
    op.drop_index(op.f(ENUMERATOR_CODE_INDEX), table_name="submissions")
    with op.batch_alter_table("submissions") as batch:
        batch.drop_column("enumerator_code")
    op.drop_table("opt_outs")
    op.drop_table("enumerators")
