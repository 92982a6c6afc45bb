"""attendance: join/leave intervals and floor intervals per site, each with its reason

Revision ID: 0101_attendance
Revises: 0001
Create Date: 2026-11-21 10:00:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel.sql.sqltypes


revision = "0101_attendance"
down_revision = "0001"
branch_labels = ("attendance",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attendance_intervals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("occurrence_id", sa.Integer(), nullable=True),
        sa.Column("site_code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("started_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("ended_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("opened_reason", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("closed_reason", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("attendance_intervals", schema=None) as batch_op:
        batch_op.create_index("ix_attendance_intervals_site_start", ["site_code", "started_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_attendance_intervals_conference_id"), ["conference_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_attendance_intervals_occurrence_id"), ["occurrence_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_attendance_intervals_started_at"), ["started_at"], unique=False)

    op.create_table(
        "floor_intervals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("occurrence_id", sa.Integer(), nullable=True),
        sa.Column("site_code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("granted_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("ended_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("granted_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("closed_reason", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("floor_intervals", schema=None) as batch_op:
        batch_op.create_index("ix_floor_intervals_site_start", ["site_code", "granted_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_floor_intervals_conference_id"), ["conference_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_floor_intervals_occurrence_id"), ["occurrence_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_floor_intervals_granted_at"), ["granted_at"], unique=False)


def downgrade() -> None:
    op.drop_table("floor_intervals")
    op.drop_table("attendance_intervals")
