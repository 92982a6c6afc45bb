"""recording: the recordings table; briefing_series.record (record this series' briefings, on by default)

Revision ID: 0161_recording
Revises: 0001
Depends on: 0003 (briefing_series)
Create Date: 2026-12-01 13:00:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = "0161_recording"
down_revision = "0001"
branch_labels = ("recording",)
depends_on = "0003"


def upgrade() -> None:
    op.create_table('recordings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('conference_id', sa.Integer(), nullable=False),
    sa.Column('occurrence_id', sa.Integer(), nullable=True),
    sa.Column('series_id', sa.Integer(), nullable=True),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('stem', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('part', sa.Integer(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('auto', sa.Boolean(), nullable=False),
    sa.Column('started_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('started_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('ended_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('duration_s', sa.Float(), nullable=True),
    sa.Column('mp4_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('mp3_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('mp4_bytes', sa.Integer(), nullable=False),
    sa.Column('mp3_bytes', sa.Integer(), nullable=False),
    sa.Column('legal_hold', sa.Boolean(), nullable=False),
    sa.Column('hold_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('hold_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('deleted_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('deleted_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('stem'),
    )
    with op.batch_alter_table('recordings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recordings_conference_id'), ['conference_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_recordings_state'), ['state'], unique=False)
    with op.batch_alter_table('briefing_series', schema=None) as batch_op:
        batch_op.add_column(sa.Column('record', sa.Boolean(), nullable=False, server_default=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table('briefing_series', schema=None) as batch_op:
        batch_op.drop_column('record')
    with op.batch_alter_table('recordings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recordings_state'))
        batch_op.drop_index(batch_op.f('ix_recordings_conference_id'))
    op.drop_table('recordings')
