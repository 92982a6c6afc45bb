"""conference: live and past conferences (state as JSON, presence per site)

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-20 23:00:00.000000

The whole conference state (participants, layout, floor, microphones,
agenda) is one JSON document, written on every change, so a restarted hub
resumes exactly where it was. Each change is also an audit event.
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel.sql.sqltypes


revision = '0004'
down_revision = '0001'
branch_labels = ('conference',)
depends_on = None


def upgrade() -> None:
    op.create_table('conferences',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('occurrence_id', sa.Integer(), nullable=True),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('layout', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('state', sa.JSON(), nullable=False),
    sa.Column('presence', sa.JSON(), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('started_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('ended_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('conferences', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conferences_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_conferences_occurrence_id'), ['occurrence_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('conferences', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conferences_occurrence_id'))
        batch_op.drop_index(batch_op.f('ix_conferences_status'))
    op.drop_table('conferences')
