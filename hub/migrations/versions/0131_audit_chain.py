"""audit chain: seq, prev_hash, hash on audit_events; the chain head row

Rows already in audit_events are chained here, in id order, from the stated
genesis (hub.audit.GENESIS), so the chain covers the whole table from the start.

Revision ID: 0131_audit_chain
Revises: 0001
Create Date: 2026-12-01 10:00:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel

from hub.audit import GENESIS, link_hash, normal_detail, row_fields


revision = "0131_audit_chain"
down_revision = "0001"
branch_labels = ("audit_chain",)
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sqlmodel.sql.sqltypes.AutoString(length=64),
                                      nullable=False, server_default=""))
        batch_op.add_column(sa.Column("hash", sqlmodel.sql.sqltypes.AutoString(length=64),
                                      nullable=False, server_default=""))
        batch_op.create_unique_constraint("uq_audit_events_seq", ["seq"])
    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    bind = op.get_bind()
    audit = sa.table(
        "audit_events", sa.column("id", sa.Integer), sa.column("at", sqlmodel.sql.sqltypes.UTCDateTime),
        sa.column("actor", sa.String), sa.column("action", sa.String), sa.column("target", sa.String),
        sa.column("ok", sa.Boolean), sa.column("ip", sa.String), sa.column("detail", sa.JSON),
        sa.column("seq", sa.Integer), sa.column("prev_hash", sa.String), sa.column("hash", sa.String),
    )
    prev, seq = GENESIS, 0
    for r in bind.execute(sa.select(audit).order_by(audit.c.id)).all():
        seq += 1
        detail = normal_detail(r.detail)
        fields = row_fields(seq=seq, at=r.at, actor=r.actor, action=r.action, target=r.target, ok=r.ok,
                            ip=r.ip, detail=detail)
        digest = link_hash(prev, fields)
        bind.execute(sa.update(audit).where(audit.c.id == r.id)
                     .values(seq=seq, prev_hash=prev, hash=digest, detail=detail))
        prev = digest
    bind.execute(sa.text("INSERT INTO audit_chain_head (id, seq, hash) VALUES (1, :seq, :hash)"),
                 {"seq": seq, "hash": prev})


def downgrade() -> None:
    op.drop_table("audit_chain_head")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_constraint("uq_audit_events_seq", type_="unique")
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("seq")
