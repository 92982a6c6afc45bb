"""The ``recordings`` table and its queries; one row per recorded part (a worker restart starts a new part)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, Session, SQLModel, select

from hub.briefings.store import BriefingOccurrence, BriefingSeries
from hub.db import session_scope
from hub.models import utcnow
from hub.recording.model import RecState


class Recording(SQLModel, table=True):
    __tablename__ = "recordings"

    id: int | None = Field(default=None, primary_key=True)
    conference_id: int = Field(index=True)
    occurrence_id: int | None = None
    series_id: int | None = None
    title: str = Field(default="", max_length=200)
    stem: str = Field(max_length=200, unique=True)  # file names: <stem>.mp4, <stem>.mp3 in recording_dir
    part: int = 1
    state: str = Field(default=RecState.RECORDING.value, max_length=16, index=True)
    reason: str = Field(default="", max_length=300)
    auto: bool = False  # started by the series' setting, not by an operator
    started_by: str = Field(default="", max_length=100)
    started_at: datetime = Field(default_factory=utcnow)
    ended_at: datetime | None = None
    duration_s: float | None = None
    mp4_sha256: str = Field(default="", max_length=64)
    mp3_sha256: str = Field(default="", max_length=64)
    mp4_bytes: int = 0
    mp3_bytes: int = 0
    legal_hold: bool = False
    hold_by: str = Field(default="", max_length=100)
    hold_at: datetime | None = None
    deleted_at: datetime | None = None
    deleted_by: str = Field(default="", max_length=100)


def insert(engine: sa.Engine, row: Recording) -> Recording:
    with session_scope(engine) as s:
        s.add(row)
        s.flush()
        s.refresh(row)
        s.expunge(row)
    return row


def get(engine: sa.Engine, recording_id: int) -> Recording | None:
    with Session(engine) as s:
        return s.get(Recording, recording_id)


def update(engine: sa.Engine, recording_id: int, **changes: Any) -> Recording | None:
    with session_scope(engine) as s:
        row = s.get(Recording, recording_id)
        if row is None:
            return None
        for k, v in changes.items():
            setattr(row, k, v)
        s.add(row)
        s.flush()
        s.refresh(row)
        s.expunge(row)
    return row


def listing(engine: sa.Engine, conference_id: int | None = None, limit: int = 500) -> list[Recording]:
    with Session(engine) as s:
        q = select(Recording).order_by(sa.desc(Recording.id)).limit(limit)  # type: ignore[arg-type]
        if conference_id is not None:
            q = q.where(Recording.conference_id == conference_id)
        return list(s.exec(q))


def running(engine: sa.Engine) -> list[Recording]:
    with Session(engine) as s:
        return list(s.exec(select(Recording).where(Recording.state == RecState.RECORDING.value)))


def without_mp3(engine: sa.Engine) -> list[Recording]:
    """Ended recordings with an MP4 but no MP3 yet (the hub makes it: hub.recording.service)."""
    with Session(engine) as s:
        q = select(Recording).where(Recording.deleted_at.is_(None),  # type: ignore[union-attr]
                                    Recording.state.not_in([RecState.RECORDING.value,  # type: ignore[attr-defined]
                                                            RecState.DISCARDED.value]),
                                    Recording.mp4_bytes > 0, Recording.mp3_bytes == 0)
        return list(s.exec(q.order_by(Recording.id)))  # type: ignore[arg-type]


def stem_taken(engine: sa.Engine, stem: str) -> bool:
    with Session(engine) as s:
        return s.exec(select(Recording.id).where(Recording.stem == stem)).first() is not None


def kept(engine: sa.Engine) -> list[Recording]:
    """Finished recordings whose files are still on disk (clean-up's candidates)."""
    with Session(engine) as s:
        q = select(Recording).where(Recording.deleted_at.is_(None),  # type: ignore[union-attr]
                                    Recording.state != RecState.RECORDING.value)
        return list(s.exec(q))


def series_of(engine: sa.Engine, occurrence_id: int) -> BriefingSeries | None:
    with Session(engine) as s:
        occ = s.get(BriefingOccurrence, occurrence_id)
        return s.get(BriefingSeries, occ.series_id) if occ is not None else None


def series(engine: sa.Engine, series_id: int) -> BriefingSeries | None:
    with Session(engine) as s:
        return s.get(BriefingSeries, series_id)


def set_series_record(engine: sa.Engine, series_id: int, on: bool) -> BriefingSeries | None:
    with session_scope(engine) as s:
        row = s.get(BriefingSeries, series_id)
        if row is None:
            return None
        row.record = on
        s.add(row)
        s.flush()
        s.refresh(row)
        s.expunge(row)
    return row


def evidence_entries(session: Session, conference_id: int) -> list[dict[str, Any]]:
    """What the evidence package lists of a briefing's recordings: file, SHA-256, duration."""
    rows = session.exec(select(Recording).where(Recording.conference_id == conference_id)
                        .order_by(Recording.id)).all()  # type: ignore[arg-type]
    out = []
    for r in rows:
        if r.state in (RecState.RECORDING.value, RecState.DISCARDED.value):
            continue
        for kind, sha, size in (("mp4", r.mp4_sha256, r.mp4_bytes), ("mp3", r.mp3_sha256, r.mp3_bytes)):
            if sha:
                out.append({"name": f"{r.stem}.{kind}", "sha256": sha, "bytes": size,
                            "duration_s": r.duration_s, "state": r.state, "legal_hold": r.legal_hold,
                            "deleted": r.deleted_at is not None})
    return out
