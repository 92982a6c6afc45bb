"""link health: probe and SNMP samples, events, hourly rollups, alarms

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-20 23:00:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel.sql.sqltypes


revision = '0002'
down_revision = '0001'
branch_labels = ('linkhealth',)
depends_on = None


def upgrade() -> None:
    op.create_table('alarms',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('severity', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('raised_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('briefing_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('message_th', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('message_en', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('cleared_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('acknowledged_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('acknowledged_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('delivery', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('alarms', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alarms_raised_at'), ['raised_at'], unique=False)
        batch_op.create_index('ix_alarms_site_kind_open', ['site_id', 'kind', 'cleared_at'], unique=False)

    op.create_table('link_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('link_events', schema=None) as batch_op:
        batch_op.create_index('ix_link_events_site_at', ['site_id', 'at'], unique=False)

    op.create_table('link_rollups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('hour', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('samples', sa.Integer(), nullable=False),
    sa.Column('probes_sent', sa.Integer(), nullable=False),
    sa.Column('probes_lost', sa.Integer(), nullable=False),
    sa.Column('rtt_min_ms', sa.Float(), nullable=True),
    sa.Column('rtt_p5_ms', sa.Float(), nullable=True),
    sa.Column('rtt_median_ms', sa.Float(), nullable=True),
    sa.Column('rtt_p95_ms', sa.Float(), nullable=True),
    sa.Column('rtt_max_ms', sa.Float(), nullable=True),
    sa.Column('jitter_median_ms', sa.Float(), nullable=True),
    sa.Column('minutes_green', sa.Integer(), nullable=False),
    sa.Column('minutes_amber', sa.Integer(), nullable=False),
    sa.Column('minutes_red', sa.Integer(), nullable=False),
    sa.Column('minutes_down', sa.Integer(), nullable=False),
    sa.Column('in_bps_avg', sa.Float(), nullable=True),
    sa.Column('in_bps_max', sa.Float(), nullable=True),
    sa.Column('out_bps_avg', sa.Float(), nullable=True),
    sa.Column('out_bps_max', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('site_id', 'hour', name='uq_link_rollups_site_hour')
    )
    with op.batch_alter_table('link_rollups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_link_rollups_hour'), ['hour'], unique=False)
        batch_op.create_index(batch_op.f('ix_link_rollups_site_id'), ['site_id'], unique=False)

    op.create_table('link_samples',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('step_s', sa.Float(), nullable=False),
    sa.Column('probes', sa.Integer(), nullable=False),
    sa.Column('rtt_median_ms', sa.Float(), nullable=True),
    sa.Column('rtt_min_ms', sa.Float(), nullable=True),
    sa.Column('rtt_max_ms', sa.Float(), nullable=True),
    sa.Column('jitter_ms', sa.Float(), nullable=True),
    sa.Column('loss_pct', sa.Float(), nullable=True),
    sa.Column('tmax_ms', sa.Float(), nullable=True),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('link_samples', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_link_samples_at'), ['at'], unique=False)
        batch_op.create_index('ix_link_samples_site_at', ['site_id', 'at'], unique=False)

    op.create_table('snmp_samples',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('detail', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('oper_status', sa.Integer(), nullable=True),
    sa.Column('high_speed_mbps', sa.Integer(), nullable=True),
    sa.Column('sys_uptime', sa.BigInteger(), nullable=True),
    sa.Column('in_bps', sa.Float(), nullable=True),
    sa.Column('out_bps', sa.Float(), nullable=True),
    sa.Column('util_down_pct', sa.Float(), nullable=True),
    sa.Column('util_up_pct', sa.Float(), nullable=True),
    sa.Column('events', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('snmp_samples', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_snmp_samples_at'), ['at'], unique=False)
        batch_op.create_index('ix_snmp_samples_site_at', ['site_id', 'at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('snmp_samples', schema=None) as batch_op:
        batch_op.drop_index('ix_snmp_samples_site_at')
        batch_op.drop_index(batch_op.f('ix_snmp_samples_at'))

    op.drop_table('snmp_samples')
    with op.batch_alter_table('link_samples', schema=None) as batch_op:
        batch_op.drop_index('ix_link_samples_site_at')
        batch_op.drop_index(batch_op.f('ix_link_samples_at'))

    op.drop_table('link_samples')
    with op.batch_alter_table('link_rollups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_link_rollups_site_id'))
        batch_op.drop_index(batch_op.f('ix_link_rollups_hour'))

    op.drop_table('link_rollups')
    with op.batch_alter_table('link_events', schema=None) as batch_op:
        batch_op.drop_index('ix_link_events_site_at')

    op.drop_table('link_events')
    with op.batch_alter_table('alarms', schema=None) as batch_op:
        batch_op.drop_index('ix_alarms_site_kind_open')
        batch_op.drop_index(batch_op.f('ix_alarms_raised_at'))

    op.drop_table('alarms')
