"""content: the content library (uploads with SHA-256, converted pages) and the show log

Revision ID: 0111_content
Revises: 0001
Create Date: 2026-12-01 10:00:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = "0111_content"
down_revision = "0001"
branch_labels = ("content",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "content_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conference_id", sa.Integer(), nullable=True),
        sa.Column("series_id", sa.Integer(), nullable=True),
        sa.Column("original_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("error_code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("page_count", sa.Integer(), nullable=False),
        sa.Column("page_width", sa.Integer(), nullable=False),
        sa.Column("page_height", sa.Integer(), nullable=False),
        sa.Column("pages", sa.JSON(), nullable=False),
        sa.Column("original_path", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("media", sa.JSON(), nullable=False),
        sa.Column("uploaded_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("uploaded_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("converted_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("content_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_content_items_conference_id"), ["conference_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_content_items_series_id"), ["series_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_content_items_sha256"), ["sha256"], unique=False)
        batch_op.create_index(batch_op.f("ix_content_items_status"), ["status"], unique=False)

    op.create_table(
        "content_shows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("page", sa.Integer(), nullable=False),
        sa.Column("shown_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("started_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("ended_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["item_id"], ["content_items.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("content_shows", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_content_shows_conference_id"), ["conference_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_content_shows_item_id"), ["item_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("content_shows", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_content_shows_item_id"))
        batch_op.drop_index(batch_op.f("ix_content_shows_conference_id"))
    op.drop_table("content_shows")
    with op.batch_alter_table("content_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_content_items_status"))
        batch_op.drop_index(batch_op.f("ix_content_items_sha256"))
        batch_op.drop_index(batch_op.f("ix_content_items_series_id"))
        batch_op.drop_index(batch_op.f("ix_content_items_conference_id"))
    op.drop_table("content_items")
