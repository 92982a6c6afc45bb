"""The ``conferences`` table: each live or ended conference, its whole state as JSON.

A restarted hub resumes every ``live`` row with the same layout, floor and
agenda position. State and its audit events are written in one transaction,
so the log never disagrees with the state.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, Session, SQLModel, col, select

from hub.attendance import store as attendance
from hub.conferences.conference import Conference, ConferenceEvent
from hub.models import AuditEvent, utcnow


class ConferenceRecord(SQLModel, table=True):
    __tablename__ = "conferences"

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=200)
    occurrence_id: int | None = Field(default=None, index=True)
    status: str = Field(default="live", max_length=16, index=True)  # live | ended
    layout: str = Field(max_length=16)
    state: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    # site → {"joined_at": iso, "left_at": iso, "error": text}: attendance evidence
    presence: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    created_by: str = Field(default="", max_length=100)
    started_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    ended_at: datetime | None = None


class UnknownConference(LookupError):
    pass


def load_live(engine: sa.Engine) -> list[ConferenceRecord]:
    with Session(engine, expire_on_commit=False) as s:
        return list(s.exec(select(ConferenceRecord).where(ConferenceRecord.status == "live")).all())


def insert(engine: sa.Engine, record: ConferenceRecord) -> int:
    with Session(engine, expire_on_commit=False) as s:
        s.add(record)
        s.commit()
        s.refresh(record)
        assert record.id is not None
        return record.id


def audit_actor(conf: Conference, actor: str) -> str:
    if actor in conf.participants:
        return f"agent:{actor}"
    if actor in ("agenda", "media", "system"):
        return f"system:{actor}" if actor != "system" else "system"
    return actor


def write(engine: sa.Engine, conf: Conference, presence: dict[str, Any], events: list[ConferenceEvent],
          ip: str, occurrence_id: int | None = None) -> None:
    """State, its audit events and its floor/attendance intervals in one transaction.

    The log and the intervals never disagree with the state.
    """
    with Session(engine, expire_on_commit=False) as s:
        row = s.get(ConferenceRecord, conf.id)
        if row is None:
            raise UnknownConference(f"conference {conf.id} is not in the database")
        row.state = conf.to_dict()
        row.presence = dict(presence)
        row.layout = conf.layout
        row.status = conf.status
        row.updated_at = utcnow()
        if conf.status == "ended" and row.ended_at is None:
            row.ended_at = utcnow()
        s.add(row)
        attendance.apply_conference_events(s, conf.id, occurrence_id,
                                           [(e.action, e.target, e.actor) for e in events], utcnow())
        for e in events:
            s.add(AuditEvent(
                actor=audit_actor(conf, e.actor)[:100],
                action=(e.action if e.action.startswith("conference.") else f"conference.{e.action}")[:64],
                target=(f"conference:{conf.id}" + (f"/{e.target}" if e.target else ""))[:200],
                ok=True, ip=ip[:64], detail=e.detail,
            ))
        s.commit()


def records(engine: sa.Engine, limit: int = 20) -> list[ConferenceRecord]:
    with Session(engine, expire_on_commit=False) as s:
        q = select(ConferenceRecord).order_by(col(ConferenceRecord.id).desc()).limit(limit)
        return list(s.exec(q).all())


def record(engine: sa.Engine, conference_id: int) -> ConferenceRecord | None:
    with Session(engine, expire_on_commit=False) as s:
        return s.get(ConferenceRecord, conference_id)
