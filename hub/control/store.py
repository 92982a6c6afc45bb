"""The control room's tables: each district's enrolled agent and the one-time enrolment codes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel, select

from hub.db import session_scope
from hub.models import Site, utcnow


class Agent(SQLModel, table=True):
    """The enrolled agent of a site. Re-enrolling replaces the token."""

    __tablename__ = "agents"

    id: int | None = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="sites.id", unique=True, index=True)
    # SHA-256 of a 256-bit random token: the token is not a password a human
    # chose, so a slow hash buys nothing and would cost CPU at every connect.
    token_hash: str = Field(max_length=64, index=True)
    enrolled_at: datetime = Field(default_factory=utcnow)
    version: str = Field(default="", max_length=32)
    hostname: str = Field(default="", max_length=255)
    os: str = Field(default="", max_length=64)
    last_seen_at: datetime | None = None
    last_ip: str = Field(default="", max_length=64)


class EnrolmentCode(SQLModel, table=True):
    __tablename__ = "enrolment_codes"

    id: int | None = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="sites.id", index=True)
    code_hash: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_at: datetime | None = None
    created_by: str = Field(default="", max_length=100)


def agent_rows(engine: sa.Engine) -> list[tuple[Agent, Site]]:
    """Every enrolled agent with its site, by site code."""
    with session_scope(engine) as session:
        return list(session.exec(
            select(Agent, Site).join(Site, Site.id == Agent.site_id).order_by(Site.code)  # type: ignore[arg-type]
        ).all())


def agent_listing(engine: sa.Engine, online: set[str]) -> list[dict[str, Any]]:
    return [
        {
            "site": site.code,
            "name_th": site.name_th,
            "version": agent.version,
            "hostname": agent.hostname,
            "os": agent.os,
            "enrolled_at": agent.enrolled_at.isoformat(),
            "last_seen": agent.last_seen_at.isoformat() if agent.last_seen_at else None,
            "last_ip": agent.last_ip,
            "online": site.code in online,
        }
        for agent, site in agent_rows(engine)
    ]


def active_sites(engine: sa.Engine) -> list[Site]:
    with session_scope(engine) as session:
        return list(session.exec(select(Site).where(Site.active == True).order_by(Site.code)))  # noqa: E712
