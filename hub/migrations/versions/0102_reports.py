"""reports: effective-dated tariffs, month-close link figures, report runs, files and deliveries

Revision ID: 0102_reports
Revises: 0001
Create Date: 2026-11-21 10:30:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel.sql.sqltypes


revision = "0102_reports"
down_revision = "0001"
branch_labels = ("reports",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_tariffs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("effective", sa.Date(), nullable=False),
        sa.Column("monthly_fee_thb", sa.Numeric(12, 2), nullable=False),
        sa.Column("vat_rate", sa.Numeric(5, 4), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("site_code", "effective", name="uq_report_tariffs_site_effective"),
    )
    with op.batch_alter_table("report_tariffs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_report_tariffs_site_code"), ["site_code"], unique=False)

    op.create_table(
        "report_link_months",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("month", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("p95_down_bps", sa.Float(), nullable=True),
        sa.Column("p95_up_bps", sa.Float(), nullable=True),
        sa.Column("buckets", sa.Integer(), nullable=False),
        sa.Column("hub_polls", sa.Integer(), nullable=False),
        sa.Column("hub_polls_up", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("site_id", "month", name="uq_report_link_months_site_month"),
    )
    with op.batch_alter_table("report_link_months", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_report_link_months_site_id"), ["site_id"], unique=False)

    op.create_table(
        "report_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("trigger", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("lang", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
        sa.Column("started_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("finished_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("total_thb", sa.Numeric(14, 2), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("report_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_report_runs_month"), ["month"], unique=False)

    op.create_table(
        "report_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("filename", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("mime", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["report_runs.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("report_files", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_report_files_run_id"), ["run_id"], unique=False)

    op.create_table(
        "report_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["report_runs.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("report_deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_report_deliveries_outbox_id"), ["outbox_id"], unique=True)
        batch_op.create_index(batch_op.f("ix_report_deliveries_run_id"), ["run_id"], unique=False)


def downgrade() -> None:
    op.drop_table("report_deliveries")
    op.drop_table("report_files")
    op.drop_table("report_runs")
    op.drop_table("report_link_months")
    op.drop_table("report_tariffs")
