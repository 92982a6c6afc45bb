"""evidence: traffic log, evidence packages

Revision ID: 0134_evidence
Revises: 0001
Create Date: 2026-12-01 10:00:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = "0134_evidence"
down_revision = "0001"
branch_labels = ('evidence',)
depends_on = None


def upgrade() -> None:
    op.create_table('traffic_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('conference_id', sa.Integer(), nullable=False),
    sa.Column('participant', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('joined_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('left_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('close_reason', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('source_addr', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('client', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('clock_at_join', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('clock_at_leave', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('clock_source', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('quality', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('traffic_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_traffic_log_conference_id'), ['conference_id'], unique=False)

    op.create_table('evidence_packages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('conference_id', sa.Integer(), nullable=False),
    sa.Column('built_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('built_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('manifest_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('path', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('key_fingerprint', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('audit_head_seq', sa.Integer(), nullable=False),
    sa.Column('audit_head_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('evidence_packages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_evidence_packages_conference_id'), ['conference_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_evidence_packages_manifest_sha256'), ['manifest_sha256'], unique=False)
        batch_op.create_index(batch_op.f('ix_evidence_packages_sha256'), ['sha256'], unique=False)


def downgrade() -> None:
    op.drop_table('evidence_packages')
    op.drop_table('traffic_log')
