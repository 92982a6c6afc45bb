"""guests: access links, passcodes, lobby policy, closures, guests, attempts

Revision ID: 0121_guests
Revises: 0001
Depends on: 0003 (the briefing tables its foreign keys point at)
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = "0121_guests"
down_revision = "0001"
branch_labels = ("guests",)
depends_on = "0003"

S = sqlmodel.sql.sqltypes.AutoString
T = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "guest_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("occurrence_id", sa.Integer(), nullable=False),
        sa.Column("kind", S(length=16), nullable=False),
        sa.Column("site_code", S(length=32), nullable=False),
        sa.Column("token_hash", S(length=64), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("created_at", T(), nullable=False),
        sa.ForeignKeyConstraint(["occurrence_id"], ["briefing_occurrences.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("occurrence_id", "kind", "site_code"),
    )
    with op.batch_alter_table("guest_links", schema=None) as b:
        b.create_index(b.f("ix_guest_links_occurrence_id"), ["occurrence_id"], unique=False)
        b.create_index(b.f("ix_guest_links_token_hash"), ["token_hash"], unique=True)

    op.create_table(
        "guest_passcodes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("passcode_hash", S(length=255), nullable=False),
        sa.Column("updated_at", T(), nullable=False),
        sa.ForeignKeyConstraint(["series_id"], ["briefing_series.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("guest_passcodes", schema=None) as b:
        b.create_index(b.f("ix_guest_passcodes_series_id"), ["series_id"], unique=True)

    op.create_table(
        "guest_policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("admit_directly", sa.Boolean(), nullable=False),
        sa.Column("updated_by", S(length=100), nullable=False),
        sa.Column("updated_at", T(), nullable=False),
        sa.ForeignKeyConstraint(["series_id"], ["briefing_series.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("guest_policies", schema=None) as b:
        b.create_index(b.f("ix_guest_policies_series_id"), ["series_id"], unique=True)

    op.create_table(
        "guest_closures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("occurrence_id", sa.Integer(), nullable=False),
        sa.Column("closed_by", S(length=100), nullable=False),
        sa.Column("closed_at", T(), nullable=False),
        sa.ForeignKeyConstraint(["occurrence_id"], ["briefing_occurrences.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("guest_closures", schema=None) as b:
        b.create_index(b.f("ix_guest_closures_occurrence_id"), ["occurrence_id"], unique=True)

    op.create_table(
        "guests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("occurrence_id", sa.Integer(), nullable=False),
        sa.Column("kind", S(length=16), nullable=False),
        sa.Column("site_code", S(length=32), nullable=False),
        sa.Column("name", S(length=100), nullable=False),
        sa.Column("organisation", S(length=150), nullable=False),
        sa.Column("identity_key", S(length=300), nullable=False),
        sa.Column("status", S(length=16), nullable=False),
        sa.Column("seat_hash", S(length=64), nullable=False),
        sa.Column("hand_raised", sa.Boolean(), nullable=False),
        sa.Column("may_unmute", sa.Boolean(), nullable=False),
        sa.Column("intervals", sa.JSON(), nullable=False),
        sa.Column("ip", S(length=64), nullable=False),
        sa.Column("created_at", T(), nullable=False),
        sa.Column("updated_at", T(), nullable=False),
        sa.ForeignKeyConstraint(["occurrence_id"], ["briefing_occurrences.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("guests", schema=None) as b:
        b.create_index(b.f("ix_guests_occurrence_id"), ["occurrence_id"], unique=False)
        b.create_index(b.f("ix_guests_identity_key"), ["identity_key"], unique=False)
        b.create_index(b.f("ix_guests_status"), ["status"], unique=False)
        b.create_index(b.f("ix_guests_seat_hash"), ["seat_hash"], unique=True)

    op.create_table(
        "guest_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("occurrence_id", sa.Integer(), nullable=False),
        sa.Column("ip", S(length=64), nullable=False),
        sa.Column("at", T(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("guest_attempts", schema=None) as b:
        b.create_index(b.f("ix_guest_attempts_occurrence_id"), ["occurrence_id"], unique=False)
        b.create_index(b.f("ix_guest_attempts_ip"), ["ip"], unique=False)
        b.create_index(b.f("ix_guest_attempts_at"), ["at"], unique=False)


def downgrade() -> None:
    for table in ("guest_attempts", "guests", "guest_closures", "guest_policies", "guest_passcodes", "guest_links"):
        op.drop_table(table)
