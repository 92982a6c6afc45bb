"""sessions: server-side browser login sessions (issue 12)

Revision ID: 0141_sessions
Revises: 0001
Create Date: 2026-12-01 09:00:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = "0141_sessions"
down_revision = "0001"
branch_labels = ("sessions",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("ended_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("end_reason", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("ip", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.ForeignKeyConstraint(["operator_id"], ["operators.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_web_sessions_operator_id"), ["operator_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_web_sessions_token_hash"), ["token_hash"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_sessions_token_hash"))
        batch_op.drop_index(batch_op.f("ix_web_sessions_operator_id"))
    op.drop_table("web_sessions")
