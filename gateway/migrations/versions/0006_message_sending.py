"""Messages being sent: the claim a worker takes before it calls AT.

Revision ID: 0006
Revises: 0005
Create Date: 2025-04-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here, not imported from gateway.core.models: a migration must not change when models do.
OLD_MESSAGE_STATUSES = (
    "queued",
    "sent",
    "recorded",
    "failed",
    "submitted",
    "buffered",
    "delivered",
    "rejected",
    "expired",
    "unknown",
)
NEW_MESSAGE_STATUSES = (*OLD_MESSAGE_STATUSES, "sending")
CHECK_NAME = "ck_messages_message_status"


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    """Upgrade the schema: the status CHECK admits "sending"."""
    # Batch mode: SQLite cannot alter a CHECK in place (see 0002).
    with op.batch_alter_table("messages") as batch:
        batch.drop_constraint(op.f(CHECK_NAME), type_="check")
        batch.create_check_constraint(op.f(CHECK_NAME), _in("status", NEW_MESSAGE_STATUSES))


def downgrade() -> None:
    """Downgrade the schema. A message caught mid-send becomes "unknown", which it would be."""
    messages = sa.table("messages", sa.column("status", sa.String(16)))
    op.execute(messages.update().where(messages.c.status == "sending").values(status="unknown"))
    with op.batch_alter_table("messages") as batch:
        batch.drop_constraint(op.f(CHECK_NAME), type_="check")
        batch.create_check_constraint(op.f(CHECK_NAME), _in("status", OLD_MESSAGE_STATUSES))
