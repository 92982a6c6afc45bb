"""Attendance and floor intervals: the tables, the writer the conference manager calls, the readers.

The writer functions take the caller's ``Session`` so an interval is written
in the same transaction as the conference state that caused it (the manager
writes state and audit events together; the intervals ride along). Rows are
only ever inserted, and closed once (``ended_at`` from NULL to a time): no
interval is overwritten or deleted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, Session, SQLModel, col, select

from hub.attendance.model import REASON_LABELS, Closed, FloorClosed, Opened, Span


class AttendanceInterval(SQLModel, table=True):
    """One site connected to one conference, from join to leave."""

    __tablename__ = "attendance_intervals"
    __table_args__ = (sa.Index("ix_attendance_intervals_site_start", "site_code", "started_at"),)

    id: int | None = Field(default=None, primary_key=True)
    conference_id: int = Field(index=True)
    occurrence_id: int | None = Field(default=None, index=True)
    site_code: str = Field(max_length=32)
    started_at: datetime = Field(index=True)
    ended_at: datetime | None = None
    opened_reason: str = Field(max_length=16)
    closed_reason: str | None = Field(default=None, max_length=16)


class FloorInterval(SQLModel, table=True):
    """One site holding the floor, from grant to release or revoke."""

    __tablename__ = "floor_intervals"
    __table_args__ = (sa.Index("ix_floor_intervals_site_start", "site_code", "granted_at"),)

    id: int | None = Field(default=None, primary_key=True)
    conference_id: int = Field(index=True)
    occurrence_id: int | None = Field(default=None, index=True)
    site_code: str = Field(max_length=32)
    granted_at: datetime = Field(index=True)
    ended_at: datetime | None = None
    granted_by: str = Field(default="", max_length=100)
    closed_reason: str | None = Field(default=None, max_length=16)


# --- writer ---------------------------------------------------------------------------------


def _open_attendance(s: Session, conference_id: int, site: str) -> AttendanceInterval | None:
    return s.exec(
        select(AttendanceInterval).where(
            AttendanceInterval.conference_id == conference_id,
            AttendanceInterval.site_code == site,
            col(AttendanceInterval.ended_at).is_(None),
        )
    ).first()


def _open_floor(s: Session, conference_id: int, site: str) -> FloorInterval | None:
    return s.exec(
        select(FloorInterval).where(
            FloorInterval.conference_id == conference_id,
            FloorInterval.site_code == site,
            col(FloorInterval.ended_at).is_(None),
        )
    ).first()


def is_open(s: Session, conference_id: int, site: str) -> bool:
    """The site has an open interval in the conference (it is in)."""
    return _open_attendance(s, conference_id, site) is not None


def open_interval(
    s: Session, conference_id: int, occurrence_id: int | None, site: str, at: datetime,
    reason: Opened = Opened.JOINED,
) -> AttendanceInterval:
    """The site is in. A second join while already in (a fresh media offer) keeps the open interval."""
    row = _open_attendance(s, conference_id, site)
    if row is not None:
        return row
    row = AttendanceInterval(conference_id=conference_id, occurrence_id=occurrence_id, site_code=site,
                             started_at=at, opened_reason=reason.value)
    s.add(row)
    return row


def close_interval(s: Session, conference_id: int, site: str, at: datetime, reason: Closed) -> bool:
    """The site is out; False when it had no open interval (a leave before any join)."""
    row = _open_attendance(s, conference_id, site)
    if row is None:
        return False
    row.ended_at = max(at, row.started_at)
    row.closed_reason = reason.value
    s.add(row)
    return True


def open_floor(
    s: Session, conference_id: int, occurrence_id: int | None, site: str, at: datetime, by: str = "",
) -> FloorInterval:
    row = _open_floor(s, conference_id, site)
    if row is not None:
        return row
    row = FloorInterval(conference_id=conference_id, occurrence_id=occurrence_id, site_code=site,
                        granted_at=at, granted_by=by[:100])
    s.add(row)
    return row


def close_floor(s: Session, conference_id: int, site: str, at: datetime, reason: FloorClosed) -> bool:
    row = _open_floor(s, conference_id, site)
    if row is None:
        return False
    row.ended_at = max(at, row.granted_at)
    row.closed_reason = reason.value
    s.add(row)
    return True


def close_conference(
    s: Session, conference_id: int, at: datetime, reason: Closed, floor_reason: FloorClosed,
) -> int:
    """Close everything still open in one conference; returns how many rows were closed."""
    closed = 0
    for a in s.exec(select(AttendanceInterval).where(
            AttendanceInterval.conference_id == conference_id, col(AttendanceInterval.ended_at).is_(None))).all():
        a.ended_at, a.closed_reason = max(at, a.started_at), reason.value
        s.add(a)
        closed += 1
    for f in s.exec(select(FloorInterval).where(
            FloorInterval.conference_id == conference_id, col(FloorInterval.ended_at).is_(None))).all():
        f.ended_at, f.closed_reason = max(at, f.granted_at), floor_reason.value
        s.add(f)
        closed += 1
    return closed


def close_all_open(s: Session, at: datetime) -> int:
    """At hub start-up or shutdown: whatever is still open was cut by the hub itself."""
    ids = set(s.exec(select(AttendanceInterval.conference_id).where(
        col(AttendanceInterval.ended_at).is_(None))).all())
    ids |= set(s.exec(select(FloorInterval.conference_id).where(col(FloorInterval.ended_at).is_(None))).all())
    return sum(close_conference(s, cid, at, Closed.HUB_RESTART, FloorClosed.HUB_RESTART) for cid in ids)


def apply_conference_events(
    s: Session, conference_id: int, occurrence_id: int | None,
    events: Iterable[tuple[str, str, str]], at: datetime,
) -> None:
    """Turn a conference's transitions (action, target site, actor) into floor and attendance rows.

    Takes plain tuples so this room does not depend on the conference room.
    """
    for action, site, actor in events:
        if action == "floor.granted":
            open_floor(s, conference_id, occurrence_id, site, at, actor)
        elif action == "floor.released":
            close_floor(s, conference_id, site, at, FloorClosed.RELEASED)
        elif action == "floor.revoked":
            close_floor(s, conference_id, site, at, FloorClosed.REVOKED)
        elif action == "conference.site_removed":
            close_floor(s, conference_id, site, at, FloorClosed.REVOKED)
            close_interval(s, conference_id, site, at, Closed.REMOVED)
        elif action == "conference.ended":
            close_conference(s, conference_id, at, Closed.ENDED, FloorClosed.ENDED)


# --- readers ---------------------------------------------------------------------------------


def intervals_between(
    engine: sa.Engine, lo: datetime, hi: datetime, sites: Sequence[str] | None = None,
) -> list[AttendanceInterval]:
    """Intervals overlapping ``[lo, hi)`` (open ones included), oldest first."""
    with Session(engine) as s:
        q = select(AttendanceInterval).where(
            AttendanceInterval.started_at < hi,
            sa.or_(col(AttendanceInterval.ended_at).is_(None), col(AttendanceInterval.ended_at) > lo),
        )
        if sites is not None:
            q = q.where(col(AttendanceInterval.site_code).in_(list(sites)))
        return list(s.exec(q.order_by(col(AttendanceInterval.started_at))).all())


def floors_between(
    engine: sa.Engine, lo: datetime, hi: datetime, sites: Sequence[str] | None = None,
) -> list[FloorInterval]:
    with Session(engine) as s:
        q = select(FloorInterval).where(
            FloorInterval.granted_at < hi,
            sa.or_(col(FloorInterval.ended_at).is_(None), col(FloorInterval.ended_at) > lo),
        )
        if sites is not None:
            q = q.where(col(FloorInterval.site_code).in_(list(sites)))
        return list(s.exec(q.order_by(col(FloorInterval.granted_at))).all())


def intervals_for_occurrence(engine: sa.Engine, occurrence_id: int) -> tuple[list[AttendanceInterval], list[FloorInterval]]:
    with Session(engine) as s:
        a = s.exec(select(AttendanceInterval).where(AttendanceInterval.occurrence_id == occurrence_id)
                   .order_by(col(AttendanceInterval.started_at))).all()
        f = s.exec(select(FloorInterval).where(FloorInterval.occurrence_id == occurrence_id)
                   .order_by(col(FloorInterval.granted_at))).all()
        return list(a), list(f)


def intervals_for_conference(engine: sa.Engine, conference_id: int) -> list[AttendanceInterval]:
    """Every join→leave interval of one conference, oldest first (open ones included)."""
    with Session(engine) as s:
        return list(s.exec(select(AttendanceInterval).where(AttendanceInterval.conference_id == conference_id)
                           .order_by(col(AttendanceInterval.started_at), col(AttendanceInterval.id))).all())


def interval_json(row: AttendanceInterval) -> dict[str, object]:
    """An interval as the API shows it (UTC ISO times; reasons with their Thai and English labels)."""
    opened = REASON_LABELS.get(row.opened_reason, (row.opened_reason, row.opened_reason))
    closed = REASON_LABELS.get(row.closed_reason, (row.closed_reason, row.closed_reason)) if row.closed_reason else None
    return {
        "site": row.site_code, "conference_id": row.conference_id, "occurrence_id": row.occurrence_id,
        "started_at": row.started_at.isoformat(), "ended_at": row.ended_at.isoformat() if row.ended_at else None,
        "opened_reason": row.opened_reason, "closed_reason": row.closed_reason,
        "opened_label_th": opened[0], "opened_label_en": opened[1],
        "closed_label_th": closed[0] if closed else None, "closed_label_en": closed[1] if closed else None,
    }


def as_span(row: AttendanceInterval | FloorInterval) -> Span:
    if isinstance(row, AttendanceInterval):
        return Span(row.site_code, row.started_at, row.ended_at, row.opened_reason, row.closed_reason)
    return Span(row.site_code, row.granted_at, row.ended_at, "granted", row.closed_reason)
