"""The kernel's tables (SQLModel), read by every room: sites, links, the audit log.

A room's own tables live in its ``store.py`` (agents and enrolment codes in
:mod:`hub.control.store`, operators and API tokens in :mod:`hub.web.store`, ...);
:mod:`hub.tables` imports them all. Every change goes through an Alembic migration.

SQLModel ``table=True`` models skip validation, so values are validated
before they get here (inventory models, API request models).
Times are timezone-aware UTC (SQLModel's ``UTCDateTime`` refuses naive ones).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class Site(SQLModel, table=True):
    __tablename__ = "sites"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(index=True, unique=True, max_length=32)
    kind: str = Field(max_length=16)  # "hub" or "district"
    name_th: str = Field(max_length=200)
    name_en: str = Field(max_length=200)
    distance_km: float | None = None
    latitude: float | None = None
    longitude: float | None = None
    contact_name: str = Field(default="", max_length=200)
    contact_phone: str = Field(default="", max_length=64)
    contact_email: str = Field(default="", max_length=254)
    room: str = Field(default="", max_length=200)
    active: bool = True


class Link(SQLModel, table=True):
    __tablename__ = "links"

    id: int | None = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="sites.id", unique=True, index=True)
    provider: str = Field(max_length=100)
    circuit_id: str = Field(default="", max_length=100)
    plan_down_mbps: int
    plan_up_mbps: int
    monthly_fee_thb: Decimal = Field(sa_column=sa.Column(sa.Numeric(12, 2), nullable=False))
    vat_rate: Decimal = Field(sa_column=sa.Column(sa.Numeric(5, 4), nullable=False))
    billing_start: date
    billed_to: str = Field(max_length=200)
    snmp_host: str = Field(default="", max_length=255)
    snmp_port: int = 161
    snmp_version: str = Field(default="2c", max_length=4)
    snmp_if_index: int = 1
    # Names of environment variables holding the secrets, never the secrets.
    snmp_community_env: str = Field(default="", max_length=100)
    snmp_user: str = Field(default="", max_length=100)
    snmp_auth_protocol: str = Field(default="", max_length=16)
    snmp_auth_key_env: str = Field(default="", max_length=100)
    snmp_priv_protocol: str = Field(default="", max_length=16)
    snmp_priv_key_env: str = Field(default="", max_length=100)


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_events"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor: str = Field(max_length=100)  # "operator:somchai", "agent:UDN17", "system"
    action: str = Field(max_length=64, index=True)  # "login.ok", "enrol.refused", ...
    target: str = Field(default="", max_length=200)
    ok: bool = True
    ip: str = Field(default="", max_length=64)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    # Hash chain (hub.audit): position, the previous row's hash, this row's hash.
    # Filled in at insert by hub.audit, whoever adds the row (migration 0131).
    seq: int | None = Field(default=None, unique=True)
    prev_hash: str = Field(default="", max_length=64)
    hash: str = Field(default="", max_length=64)


class AuditChainHead(SQLModel, table=True):
    """The chain's newest link, one row (id 1). Every append updates it first, so
    appends are serialised by the database (row lock on PostgreSQL, the write
    lock on SQLite) and a deleted last row is still detected."""

    __tablename__ = "audit_chain_head"

    id: int = Field(default=1, primary_key=True)
    seq: int = 0
    hash: str = Field(max_length=64)
