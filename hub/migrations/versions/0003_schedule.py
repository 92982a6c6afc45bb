"""schedule: briefing series, occurrences, attendance, mail outbox

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-20 22:50:00.000000

The APScheduler job table (schedule_jobs) is created by APScheduler's
SQLAlchemyJobStore itself, so it is not declared here.
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0003'
down_revision = '0001'
branch_labels = ('schedule',)
depends_on = None


def upgrade() -> None:
    op.create_table('briefing_series',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uid', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('spec', sa.JSON(), nullable=False),
    sa.Column('passcode', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('invited', sa.Boolean(), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('briefing_series', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_briefing_series_uid'), ['uid'], unique=True)

    op.create_table('mail_outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('series_id', sa.Integer(), nullable=True),
    sa.Column('site_code', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('to_addr', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
    sa.Column('to_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('subject', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('text_body', sa.Text(), nullable=False),
    sa.Column('html_body', sa.Text(), nullable=False),
    sa.Column('ics', sa.Text(), nullable=False),
    sa.Column('ics_method', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('next_attempt_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('sent_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('message_id', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('mail_outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mail_outbox_next_attempt_at'), ['next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_mail_outbox_series_id'), ['series_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_mail_outbox_state'), ['state'], unique=False)

    op.create_table('briefing_occurrences',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('series_id', sa.Integer(), nullable=False),
    sa.Column('key_date', sa.Date(), nullable=False),
    sa.Column('starts_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('ends_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('conference_id', sa.Integer(), nullable=True),
    sa.Column('opened_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('ended_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('extended_min', sa.Float(), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.ForeignKeyConstraint(['series_id'], ['briefing_series.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('series_id', 'key_date')
    )
    with op.batch_alter_table('briefing_occurrences', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_briefing_occurrences_series_id'), ['series_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_briefing_occurrences_starts_at'), ['starts_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_briefing_occurrences_state'), ['state'], unique=False)

    op.create_table('briefing_attendance',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('occurrence_id', sa.Integer(), nullable=False),
    sa.Column('site_code', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('ready', sa.Boolean(), nullable=True),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('checked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('reminded_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('join_sent_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('joined_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['occurrence_id'], ['briefing_occurrences.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('occurrence_id', 'site_code')
    )
    with op.batch_alter_table('briefing_attendance', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_briefing_attendance_occurrence_id'), ['occurrence_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('briefing_attendance', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_briefing_attendance_occurrence_id'))
    op.drop_table('briefing_attendance')
    with op.batch_alter_table('briefing_occurrences', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_briefing_occurrences_state'))
        batch_op.drop_index(batch_op.f('ix_briefing_occurrences_starts_at'))
        batch_op.drop_index(batch_op.f('ix_briefing_occurrences_series_id'))
    op.drop_table('briefing_occurrences')
    with op.batch_alter_table('mail_outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mail_outbox_state'))
        batch_op.drop_index(batch_op.f('ix_mail_outbox_series_id'))
        batch_op.drop_index(batch_op.f('ix_mail_outbox_next_attempt_at'))
    op.drop_table('mail_outbox')
    with op.batch_alter_table('briefing_series', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_briefing_series_uid'))
    op.drop_table('briefing_series')
