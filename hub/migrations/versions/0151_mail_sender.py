"""mail sender: from_addr, from_name on mail_outbox (an invitation is From its ORGANIZER)

Rows queued before this revision have an empty sender and go out From the relay's
address, as they always did.

Revision ID: 0151_mail_sender
Revises: 0001
Depends on: 0003 (mail_outbox)
Create Date: 2026-12-05 10:00:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = "0151_mail_sender"
down_revision = "0001"
branch_labels = ("mail_sender",)
depends_on = "0003"


def upgrade() -> None:
    with op.batch_alter_table("mail_outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("from_addr", sqlmodel.sql.sqltypes.AutoString(length=254),
                                      nullable=False, server_default=""))
        batch_op.add_column(sa.Column("from_name", sqlmodel.sql.sqltypes.AutoString(length=200),
                                      nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("mail_outbox", schema=None) as batch_op:
        batch_op.drop_column("from_name")
        batch_op.drop_column("from_addr")
