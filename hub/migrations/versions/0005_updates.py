"""updates: agent releases and rollout waves

Revision ID: 0005
Revises: 0001
Create Date: 2026-11-20 23:00:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = "0005"
down_revision = "0001"
branch_labels = ("updates",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_releases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("filename", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("signature", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("notes", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("uploaded_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("uploaded_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("agent_releases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agent_releases_version"), ["version"], unique=True)

    op.create_table(
        "rollout_waves",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("opens_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["release_id"], ["agent_releases.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("rollout_waves", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rollout_waves_release_id"), ["release_id"], unique=False)

    op.create_table(
        "rollout_wave_sites",
        sa.Column("wave_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"]),
        sa.ForeignKeyConstraint(["wave_id"], ["rollout_waves.id"]),
        sa.PrimaryKeyConstraint("wave_id", "site_id"),
    )
    with op.batch_alter_table("rollout_wave_sites", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rollout_wave_sites_site_id"), ["site_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("rollout_wave_sites", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rollout_wave_sites_site_id"))
    op.drop_table("rollout_wave_sites")
    with op.batch_alter_table("rollout_waves", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rollout_waves_release_id"))
    op.drop_table("rollout_waves")
    with op.batch_alter_table("agent_releases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agent_releases_version"))
    op.drop_table("agent_releases")
