"""Initial schema: respondents, submissions, answers, messages.

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here, not imported from gateway.core.models: a migration must not change when models do.
SUBMISSION_STATUSES = ("started", "completed", "declined")
MESSAGE_STATUSES = ("queued", "sent", "recorded", "failed")


def _in(column: str, values: Sequence[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    """Upgrade the schema."""
    op.create_table(
        "respondents",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_respondents")),
    )

    op.create_table(
        "submissions",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("respondent_id", sa.String(64), nullable=False),
        sa.Column("flow", sa.String(64), nullable=False),
        sa.Column("flow_version", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reference", sa.String(12), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submissions")),
        sa.ForeignKeyConstraint(
            ["respondent_id"],
            ["respondents.id"],
            name=op.f("fk_submissions_respondent_id_respondents"),
        ),
        sa.CheckConstraint(
            _in("status", SUBMISSION_STATUSES), name=op.f("ck_submissions_submission_status")
        ),
    )
    op.create_index(
        op.f("ix_submissions_respondent_id"), "submissions", ["respondent_id"], unique=False
    )
    op.create_index(op.f("ix_submissions_flow"), "submissions", ["flow"], unique=False)
    op.create_index(op.f("ix_submissions_reference"), "submissions", ["reference"], unique=False)

    op.create_table(
        "answers",
        sa.Column("submission_id", sa.String(36), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("submission_id", "key", name=op.f("pk_answers")),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_answers_submission_id_submissions"),
            ondelete="CASCADE",
        ),
    )

    op.create_table(
        "messages",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("submission_id", sa.String(36), nullable=True),
        sa.Column("respondent_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("to_encrypted", sa.Text(), nullable=False),
        sa.Column("to_masked", sa.String(20), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("provider_id", sa.String(100), nullable=True),
        sa.Column("cost", sa.String(32), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_messages_submission_id_submissions"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("submission_id", "kind", name=op.f("uq_messages_submission_id_kind")),
        sa.CheckConstraint(
            _in("status", MESSAGE_STATUSES), name=op.f("ck_messages_message_status")
        ),
    )
    op.create_index(op.f("ix_messages_respondent_id"), "messages", ["respondent_id"], unique=False)
    op.create_index(op.f("ix_messages_created_at"), "messages", ["created_at"], unique=False)


def downgrade() -> None:
    """Downgrade the schema: drop every table (and so every row)."""
    op.drop_index(op.f("ix_messages_created_at"), table_name="messages")
    op.drop_index(op.f("ix_messages_respondent_id"), table_name="messages")
    op.drop_table("messages")
    op.drop_table("answers")
    op.drop_index(op.f("ix_submissions_reference"), table_name="submissions")
    op.drop_index(op.f("ix_submissions_flow"), table_name="submissions")
    op.drop_index(op.f("ix_submissions_respondent_id"), table_name="submissions")
    op.drop_table("submissions")
    op.drop_table("respondents")
