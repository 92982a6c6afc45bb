"""The alarms table and its queries (blocking: call through asyncio.to_thread)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, Session, SQLModel, col, select

from hub.control.store import Agent
from hub.db import session_scope
from hub.models import Site, utcnow


class Alarm(SQLModel, table=True):
    __tablename__ = "alarms"
    __table_args__ = (sa.Index("ix_alarms_site_kind_open", "site_id", "kind", "cleared_at"),)

    id: int | None = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="sites.id")
    kind: str = Field(max_length=16)  # offline | red | not_ready | media_flapping
    severity: str = Field(max_length=16)  # warning | critical
    raised_at: datetime = Field(default_factory=utcnow, index=True)
    briefing_at: datetime | None = None
    message_th: str = Field(max_length=500)
    message_en: str = Field(max_length=500)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    cleared_at: datetime | None = None
    acknowledged_by: str | None = Field(default=None, max_length=100)
    acknowledged_at: datetime | None = None
    delivery: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))


def alarm_json(a: Alarm, code: str) -> dict[str, Any]:
    def iso(v: datetime | None) -> str | None:
        return v.isoformat() if v else None

    return {
        "id": a.id,
        "site": code,
        "kind": a.kind,
        "severity": a.severity,
        "raised_at": iso(a.raised_at),
        "briefing_at": iso(a.briefing_at),
        "message_th": a.message_th,
        "message_en": a.message_en,
        "detail": a.detail,
        "cleared_at": iso(a.cleared_at),
        "acknowledged_by": a.acknowledged_by,
        "acknowledged_at": iso(a.acknowledged_at),
        "delivery": a.delivery,
    }


def site_by_code(session: Session, code: str) -> Site | None:
    return session.exec(select(Site).where(Site.code == code)).first()


def open_alarm(session: Session, site_id: int, kind: str) -> Alarm | None:
    return session.exec(
        select(Alarm).where(Alarm.site_id == site_id, Alarm.kind == kind, col(Alarm.cleared_at).is_(None))
    ).first()


def clear(engine: sa.Engine, code: str, kind: str, now: datetime) -> list[dict[str, Any]]:
    with session_scope(engine) as session:
        rows = session.exec(
            select(Alarm, Site)
            .join(Site, Site.id == Alarm.site_id)  # type: ignore[arg-type]
            .where(Site.code == code, Alarm.kind == kind, col(Alarm.cleared_at).is_(None))
        ).all()
        out = []
        for alarm, _site in rows:
            alarm.cleared_at = now
            session.add(alarm)
            out.append(alarm_json(alarm, code))
        return out


def acknowledge(engine: sa.Engine, alarm_id: int, who: str, now: datetime) -> dict[str, Any] | None:
    with session_scope(engine) as session:
        row = session.exec(
            select(Alarm, Site).join(Site, Site.id == Alarm.site_id).where(Alarm.id == alarm_id)  # type: ignore[arg-type]
        ).first()
        if row is None:
            return None
        alarm, site = row
        if alarm.acknowledged_at is None:
            alarm.acknowledged_by = who[:100]
            alarm.acknowledged_at = now
            session.add(alarm)
        return alarm_json(alarm, site.code)


def list_alarms(engine: sa.Engine, *, open_only: bool = False, limit: int = 200) -> list[dict[str, Any]]:
    with session_scope(engine) as session:
        query = select(Alarm, Site).join(Site, Site.id == Alarm.site_id)  # type: ignore[arg-type]
        if open_only:
            query = query.where(col(Alarm.acknowledged_at).is_(None))
        rows = session.exec(query.order_by(col(Alarm.raised_at).desc(), col(Alarm.id).desc()).limit(limit)).all()
        return [alarm_json(a, s.code) for a, s in rows]


def record_delivery(engine: sa.Engine, alarm_id: int, results: dict[str, Any]) -> None:
    """Merge delivery results (e-mail is already marked queued; the webhook adds its own)."""
    with session_scope(engine) as session:
        row = session.get(Alarm, alarm_id)
        if row is not None:
            row.delivery = {**row.delivery, **results}
            session.add(row)


def enrolled_districts(engine: sa.Engine) -> list[str]:
    with session_scope(engine) as session:
        rows = session.exec(
            select(Site.code)
            .join(Agent, Agent.site_id == Site.id)  # type: ignore[arg-type]
            .where(Site.kind == "district", Site.active == True)  # noqa: E712
        ).all()
        return list(rows)
