"""polls: polls, tallies counted in place, voters without choice or time, open-ballot votes, settings

Revision ID: 0132_polls
Revises: 0001
Create Date: 2026-12-01 10:00:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = "0132_polls"
down_revision = "0001"
branch_labels = ('polls',)
depends_on = None


def upgrade() -> None:
    op.create_table('polls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('conference_id', sa.Integer(), nullable=False),
    sa.Column('question', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('options', sa.JSON(), nullable=False),
    sa.Column('ballot', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('unit', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('closes_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('closed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('closed_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('polls', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_polls_conference_id'), ['conference_id'], unique=False)

    op.create_table('poll_settings',
    sa.Column('conference_id', sa.Integer(), nullable=False),
    sa.Column('districts_may_create', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('conference_id')
    )

    op.create_table('poll_tallies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('poll_id', sa.Integer(), nullable=False),
    sa.Column('option_index', sa.Integer(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['poll_id'], ['polls.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('poll_id', 'option_index', name='uq_poll_tally_option')
    )
    with op.batch_alter_table('poll_tallies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_poll_tallies_poll_id'), ['poll_id'], unique=False)

    op.create_table('poll_voters',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('poll_id', sa.Integer(), nullable=False),
    sa.Column('voter', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('participant', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.ForeignKeyConstraint(['poll_id'], ['polls.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('poll_id', 'voter', name='uq_poll_voter')
    )
    with op.batch_alter_table('poll_voters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_poll_voters_poll_id'), ['poll_id'], unique=False)

    op.create_table('poll_open_votes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('poll_id', sa.Integer(), nullable=False),
    sa.Column('voter', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('option_index', sa.Integer(), nullable=False),
    sa.Column('voted_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['poll_id'], ['polls.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('poll_open_votes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_poll_open_votes_poll_id'), ['poll_id'], unique=False)


def downgrade() -> None:
    op.drop_table('poll_open_votes')
    op.drop_table('poll_voters')
    op.drop_table('poll_tallies')
    op.drop_table('poll_settings')
    op.drop_table('polls')
