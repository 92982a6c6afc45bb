"""reports: the month-close snapshot also keeps the month's median RTT (the median of the hourly medians)

The national report spent most of its build ranking 650 k hourly rows per
month to find each district's median; a closed month's median is frozen with
its p95 the first time the month is reported.

Revision ID: 0103_report_rollups
Revises: 0102_reports
Create Date: 2026-12-01 14:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0103_report_rollups"
down_revision = "0102_reports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("report_link_months", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rtt_median_ms", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("rtt_frozen", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("report_link_months", schema=None) as batch_op:
        batch_op.drop_column("rtt_frozen")
        batch_op.drop_column("rtt_median_ms")
