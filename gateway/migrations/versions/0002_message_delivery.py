"""Message delivery: AT's delivery states, the raw AT status, failure reason, delivery time.

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-15 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here, not imported from gateway.core.models: a migration must not change when models do.
OLD_MESSAGE_STATUSES = ("queued", "sent", "recorded", "failed")
NEW_MESSAGE_STATUSES = (
    *OLD_MESSAGE_STATUSES,
    "submitted",
    "buffered",
    "delivered",
    "rejected",
    "expired",
    "unknown",
)
# What each new status was called before 0002, for the downgrade. "unknown" was recorded as
# "failed" then, since a send whose outcome was unknown went down the permanent-failure path.
DOWNGRADE_STATUS = {
    "submitted": "sent",
    "buffered": "sent",
    "delivered": "sent",
    "rejected": "failed",
    "expired": "failed",
    "unknown": "failed",
}
CHECK_NAME = "ck_messages_message_status"
PROVIDER_ID_INDEX = "ix_messages_provider_id"


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    """Upgrade the schema: widen the status CHECK, add the delivery columns."""
    # Batch mode: SQLite cannot alter a CHECK in place, so the table is rebuilt there (its
    # named constraints are reflected and kept); PostgreSQL gets plain ALTER TABLE statements.
    with op.batch_alter_table("messages") as batch:
        batch.drop_constraint(op.f(CHECK_NAME), type_="check")
        batch.create_check_constraint(op.f(CHECK_NAME), _in("status", NEW_MESSAGE_STATUSES))
        batch.add_column(sa.Column("provider_status", sa.String(32), nullable=True))
        batch.add_column(sa.Column("failure_reason", sa.String(64), nullable=True))
        batch.add_column(sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("network_code", sa.String(16), nullable=True))
    # Delivery reports find their message by AT's id.
    op.create_index(op.f(PROVIDER_ID_INDEX), "messages", ["provider_id"], unique=False)


def downgrade() -> None:
    """Downgrade the schema; the delivery details are lost and new statuses take old names."""
    messages = sa.table("messages", sa.column("status", sa.String(16)))
    # Before the old CHECK comes back, or rows with the new statuses would violate it.
    for new, old in DOWNGRADE_STATUS.items():
        op.execute(messages.update().where(messages.c.status == new).values(status=old))
    op.drop_index(op.f(PROVIDER_ID_INDEX), table_name="messages")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("network_code")
        batch.drop_column("delivered_at")
        batch.drop_column("failure_reason")
        batch.drop_column("provider_status")
        batch.drop_constraint(op.f(CHECK_NAME), type_="check")
        batch.create_check_constraint(op.f(CHECK_NAME), _in("status", OLD_MESSAGE_STATUSES))
