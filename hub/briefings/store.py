"""Briefing tables and their queries (blocking: the runtime calls them through asyncio.to_thread).

A series (its rule as JSON, iCalendar UID and SEQUENCE), its occurrences (one
row per date the rule gives, kept when moved, state machine in
hub.briefings.model) and each district's attendance of an occurrence.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, Session, SQLModel, select

from hub.briefings.model import Booking, OccState, advance
from hub.mail.store import MailOutbox
from hub.models import Site, utcnow

NOT_YET_OPEN = [OccState.SCHEDULED.value, OccState.READINESS.value, OccState.REMINDED.value]


def session(engine: sa.Engine) -> Session:
    return Session(engine, expire_on_commit=False)


class BriefingSeries(SQLModel, table=True):
    __tablename__ = "briefing_series"

    id: int | None = Field(default=None, primary_key=True)
    uid: str = Field(max_length=200, unique=True, index=True)  # iCalendar UID, never changes
    title: str = Field(max_length=200)
    spec: dict[str, Any] = Field(sa_column=sa.Column(sa.JSON, nullable=False))
    passcode: str = Field(max_length=16)
    sequence: int = 0  # iCalendar SEQUENCE: raised on every change sent to attendees
    state: str = Field(default="active", max_length=16)  # active | cancelled
    invited: bool = False  # invitations went out: changes send updates
    record: bool = True  # the recording room records this series' briefings (issue 14; never a confidential one)
    created_by: str = Field(default="", max_length=100)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class BriefingOccurrence(SQLModel, table=True):
    __tablename__ = "briefing_occurrences"
    __table_args__ = (sa.UniqueConstraint("series_id", "key_date"),)

    id: int | None = Field(default=None, primary_key=True)
    series_id: int = Field(foreign_key="briefing_series.id", index=True)
    key_date: date  # the date the rule gave it; stays when the occurrence is moved
    starts_at: datetime = Field(index=True)
    ends_at: datetime
    state: str = Field(default=OccState.SCHEDULED.value, max_length=16, index=True)
    conference_id: int | None = None
    opened_at: datetime | None = None
    ended_at: datetime | None = None
    extended_min: float = 0.0
    note: str = Field(default="", max_length=500)


class BriefingAttendance(SQLModel, table=True):
    """One district in one occurrence: readiness, reminder, join."""

    __tablename__ = "briefing_attendance"
    __table_args__ = (sa.UniqueConstraint("occurrence_id", "site_code"),)

    id: int | None = Field(default=None, primary_key=True)
    occurrence_id: int = Field(foreign_key="briefing_occurrences.id", index=True)
    site_code: str = Field(max_length=32)
    ready: bool | None = None
    reasons: list[str] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    checked_at: datetime | None = None
    reminded_at: datetime | None = None
    join_sent_at: datetime | None = None
    joined_at: datetime | None = None


def active_sites(engine: sa.Engine) -> dict[str, Site]:
    with session(engine) as s:
        sites = s.exec(select(Site).where(Site.active == True)).all()  # noqa: E712
    return {x.code: x for x in sites}


def bookings(s: Session, exclude_series: int | None, now: datetime) -> list[Booking]:
    """Every district booked by an active series from ``now`` on (for the overlap check)."""
    rows = s.exec(
        select(BriefingOccurrence, BriefingSeries)
        .join(BriefingSeries, BriefingSeries.id == BriefingOccurrence.series_id)  # type: ignore[arg-type]
        .where(BriefingSeries.state == "active")
        .where(BriefingOccurrence.state.not_in([OccState.CANCELLED.value, OccState.MISSED.value]))  # type: ignore[attr-defined]
        .where(BriefingOccurrence.ends_at > now)
    ).all()
    return [
        Booking(series.id or 0, series.title, frozenset(series.spec["districts"]), occ.starts_at, occ.ends_at)
        for occ, series in rows
        if series.id != exclude_series
    ]


def get(engine: sa.Engine, occurrence_id: int) -> tuple[BriefingOccurrence, BriefingSeries] | None:
    with session(engine) as s:
        occ = s.get(BriefingOccurrence, occurrence_id)
        if occ is None:
            return None
        series = s.get(BriefingSeries, occ.series_id)
        assert series is not None
        return occ, series


class LostRace(Exception):
    """The state changed under a transition (another trigger won)."""


def transition(engine: sa.Engine, occurrence_id: int, event: str, **changes: Any) -> BriefingOccurrence | None:
    """Apply one state-machine event; None if there is no such occurrence.

    Compare-and-set on the state column: two triggers racing (a restart's catch-up and
    the missed-job listener, say) cannot both win, so each step happens at most once.
    Raises hub.briefings.model.IllegalTransition (not allowed now) or LostRace.
    """
    with session(engine) as s:
        occ = s.get(BriefingOccurrence, occurrence_id)
        if occ is None:
            return None
        before = occ.state
        after = advance(before, event).value
        result = s.execute(
            sa.update(BriefingOccurrence)
            .where(BriefingOccurrence.id == occurrence_id, BriefingOccurrence.state == before)  # type: ignore[arg-type]
            .values(state=after, **changes)
        )
        s.commit()
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise LostRace(f"occurrence {occurrence_id}: {event} lost a race (state changed under it)")
        s.expire_all()
        return s.get(BriefingOccurrence, occurrence_id)


def attendance(engine: sa.Engine, occurrence_id: int, code: str, **changes: Any) -> None:
    """Upsert one district's row; steps running side by side may both create it."""
    for attempt in range(2):
        with session(engine) as s:
            row = s.exec(select(BriefingAttendance).where(
                BriefingAttendance.occurrence_id == occurrence_id, BriefingAttendance.site_code == code)).first()
            if row is None:
                row = BriefingAttendance(occurrence_id=occurrence_id, site_code=code)
            for k, v in changes.items():
                setattr(row, k, v)
            s.add(row)
            try:
                s.commit()
                return
            except sa.exc.IntegrityError:
                s.rollback()
                if attempt:
                    raise


def mark_joined(engine: sa.Engine, occurrence_id: int, code: str, now: datetime) -> bool:
    """Record the first join of a district; False when it had joined already."""
    with session(engine) as s:
        row = s.exec(select(BriefingAttendance).where(
            BriefingAttendance.occurrence_id == occurrence_id, BriefingAttendance.site_code == code)).first()
        if row is not None and row.joined_at is not None:
            return False
    attendance(engine, occurrence_id, code, joined_at=now)
    return True


def set_conference(engine: sa.Engine, occurrence_id: int, conf_id: int) -> None:
    with session(engine) as s:
        occ = s.get(BriefingOccurrence, occurrence_id)
        assert occ is not None
        occ.conference_id = conf_id
        s.add(occ)
        s.commit()


def open_occurrences_for(engine: sa.Engine, code: str) -> list[tuple[int, str]]:
    """(occurrence id, title) of every open briefing the district is part of."""
    with session(engine) as s:
        rows = s.exec(
            select(BriefingOccurrence, BriefingSeries)
            .join(BriefingSeries, BriefingSeries.id == BriefingOccurrence.series_id)  # type: ignore[arg-type]
            .where(BriefingOccurrence.state == OccState.OPEN.value)
        ).all()
    return [(o.id or 0, series.title) for o, series in rows if code in series.spec["districts"]]


def next_briefing(engine: sa.Engine, code: str, now: datetime) -> datetime | None:
    """Start of the site's next briefing not yet open (for alarm severity)."""
    with session(engine) as s:
        rows = s.exec(
            select(BriefingOccurrence, BriefingSeries)
            .join(BriefingSeries, BriefingSeries.id == BriefingOccurrence.series_id)  # type: ignore[arg-type]
            .where(BriefingOccurrence.state.in_(NOT_YET_OPEN))  # type: ignore[attr-defined]
            .where(BriefingOccurrence.starts_at >= now)
            .order_by(BriefingOccurrence.starts_at)  # type: ignore[arg-type]
        ).all()
    return next((o.starts_at for o, series in rows if code in series.spec["districts"]), None)


def overdue(engine: sa.Engine, limit: datetime) -> list[int]:
    """Occurrences not yet open whose start is before ``limit``."""
    with session(engine) as s:
        rows = s.exec(select(BriefingOccurrence).where(
            BriefingOccurrence.state.in_(NOT_YET_OPEN),  # type: ignore[attr-defined]
            BriefingOccurrence.starts_at < limit)).all()
    return [r.id for r in rows if r.id is not None]


def mail_rows(engine: sa.Engine, series_id: int | None) -> list[MailOutbox]:
    """The outbox rows of one series (or of all): the invitations list."""
    with session(engine) as s:
        q = select(MailOutbox).where(MailOutbox.kind != "alarm").order_by(MailOutbox.id)  # type: ignore[arg-type]
        if series_id is not None:
            q = q.where(MailOutbox.series_id == series_id)
        return list(s.exec(q).all())

