"""Identity tables (migration 0133_identity) and the roster read from the conferences table.

The roster is read through a Core view of ``conferences`` (id, title, state,
times) rather than the conference manager's model class: that room is being
restructured (issue 10) and its table, owned by migration 0004, is the stable
part. Phase 2 may swap :func:`roster` for a call into the conference room.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, Session, SQLModel, col, select
from sqlmodel.sql.sqltypes import UTCDateTime

from hub.identity.model import GUEST_PREFIX, IssuedCode, Person, RollCall
from hub.models import Site, utcnow


class IdentityRecord(SQLModel, table=True):
    """One person confirmed present at one site (or one guest), with the time it was said."""

    __tablename__ = "identities"

    id: int | None = Field(default=None, primary_key=True)
    conference_id: int = Field(index=True)
    participant: str = Field(max_length=64)  # site code, or "guest:<n>"
    name: str = Field(max_length=200)
    position: str = Field(default="", max_length=200)
    organisation: str = Field(default="", max_length=200)
    confirmed_at: datetime = Field(default_factory=utcnow)
    via: str = Field(default="api", max_length=16)  # agent | guest_page | api
    roll_call_id: int | None = None


class RollCallRecord(SQLModel, table=True):
    __tablename__ = "roll_calls"

    id: int | None = Field(default=None, primary_key=True)
    conference_id: int = Field(index=True)
    started_at: datetime
    deadline: datetime
    started_by: str = Field(default="", max_length=100)
    expected: list[str] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))


class RollCallAnswer(SQLModel, table=True):
    __tablename__ = "roll_call_answers"
    __table_args__ = (sa.UniqueConstraint("roll_call_id", "participant", name="uq_roll_call_answer"),)

    id: int | None = Field(default=None, primary_key=True)
    roll_call_id: int = Field(foreign_key="roll_calls.id", index=True)
    participant: str = Field(max_length=64)
    answered_at: datetime
    by: str = Field(default="", max_length=100)


class BriefingSecurity(SQLModel, table=True):
    """A briefing marked confidential (ลับ): second factor at join, no guests, no recording."""

    __tablename__ = "briefing_security"

    conference_id: int = Field(primary_key=True)
    confidential: bool = False
    set_at: datetime = Field(default_factory=utcnow)
    set_by: str = Field(default="", max_length=100)


class JoinCode(SQLModel, table=True):
    """A one-time join code for one district in one confidential briefing; the code is never stored."""

    __tablename__ = "join_codes"

    id: int | None = Field(default=None, primary_key=True)
    conference_id: int = Field(index=True)
    site_code: str = Field(max_length=32, index=True)
    digest: str = Field(max_length=64)
    salt: str = Field(max_length=64)  # hex
    issued_at: datetime
    expires_at: datetime
    attempts: int = 0
    used_at: datetime | None = None
    sent_to: str = Field(default="", max_length=254)


# --- the briefing's roster -------------------------------------------------------------------

_CONFERENCES = sa.table(
    "conferences", sa.column("id", sa.Integer), sa.column("title", sa.String),
    sa.column("occurrence_id", sa.Integer), sa.column("status", sa.String), sa.column("layout", sa.String),
    sa.column("state", sa.JSON), sa.column("created_by", sa.String),
    sa.column("started_at", UTCDateTime), sa.column("ended_at", UTCDateTime),
)


@dataclass(frozen=True)
class Roster:
    """A briefing as the identity, poll and evidence rooms see it."""

    conference_id: int
    title: str
    occurrence_id: int | None
    status: str
    created_by: str
    started_at: datetime
    ended_at: datetime | None
    sites: tuple[str, ...]  # district codes taking part (the province's room included)
    guests: tuple[str, ...]  # "guest:<n>" with an identity in this briefing

    @property
    def participants(self) -> set[str]:
        return set(self.sites) | set(self.guests)


def roster(session: Session, conference_id: int) -> Roster | None:
    row = session.connection().execute(sa.select(_CONFERENCES).where(_CONFERENCES.c.id == conference_id)).first()
    if row is None:
        return None
    state = row.state or {}
    guests = session.exec(
        select(IdentityRecord.participant).where(
            IdentityRecord.conference_id == conference_id, col(IdentityRecord.participant).startswith(GUEST_PREFIX))
    ).all()
    return Roster(conference_id, row.title, row.occurrence_id, row.status, row.created_by or "", row.started_at,
                  row.ended_at, tuple(state.get("participants", [])), tuple(sorted(set(guests))))


def roster_sites(session: Session, conference_id: int) -> tuple[str, ...] | None:
    """Only the districts in the briefing (the join gate's question), None for no such briefing."""
    row = session.connection().execute(
        sa.select(_CONFERENCES.c.state).where(_CONFERENCES.c.id == conference_id)).first()
    if row is None:
        return None
    return tuple((row.state or {}).get("participants", []))


def site_names(session: Session, codes: list[str]) -> dict[str, tuple[str, str]]:
    rows = session.exec(select(Site).where(col(Site.code).in_(codes))).all()
    return {s.code: (s.name_th, s.name_en) for s in rows}


def site_contact(session: Session, code: str) -> Site | None:
    return session.exec(select(Site).where(Site.code == code)).first()


# --- identities -------------------------------------------------------------------------------


def add_identities(session: Session, conference_id: int, participant: str, people: list[Person], at: datetime,
                   via: str, roll_call_id: int | None = None) -> list[IdentityRecord]:
    rows = [IdentityRecord(conference_id=conference_id, participant=participant, name=p.name, position=p.position,
                           organisation=p.organisation, confirmed_at=at, via=via, roll_call_id=roll_call_id)
            for p in people]
    session.add_all(rows)
    return rows


def identities(session: Session, conference_id: int) -> list[IdentityRecord]:
    return list(session.exec(select(IdentityRecord).where(IdentityRecord.conference_id == conference_id)
                             .order_by(col(IdentityRecord.confirmed_at), col(IdentityRecord.id))))


def next_guest_number(session: Session, conference_id: int) -> int:
    return len(set(session.exec(select(IdentityRecord.participant).where(
        IdentityRecord.conference_id == conference_id,
        col(IdentityRecord.participant).startswith(GUEST_PREFIX))).all())) + 1


# --- roll calls -------------------------------------------------------------------------------


def load_roll_call(session: Session, roll_call_id: int) -> tuple[RollCallRecord, RollCall] | None:
    rec = session.get(RollCallRecord, roll_call_id)
    if rec is None or rec.id is None:
        return None
    answers = session.exec(select(RollCallAnswer).where(RollCallAnswer.roll_call_id == rec.id)).all()
    call = RollCall(rec.id, rec.started_at, rec.deadline, tuple(rec.expected),
                    {a.participant: a.answered_at for a in answers})
    return rec, call


def roll_calls(session: Session, conference_id: int) -> list[RollCall]:
    ids = session.exec(select(RollCallRecord.id).where(RollCallRecord.conference_id == conference_id)
                       .order_by(col(RollCallRecord.id))).all()
    found = [load_roll_call(session, i) for i in ids if i is not None]
    return [c for _, c in (f for f in found if f is not None)]


# --- confidentiality and join codes -----------------------------------------------------------


def is_confidential(session: Session, conference_id: int) -> bool:
    row = session.get(BriefingSecurity, conference_id)
    return bool(row and row.confidential)


def latest_code(session: Session, conference_id: int, site: str) -> JoinCode | None:
    return session.exec(select(JoinCode).where(JoinCode.conference_id == conference_id, JoinCode.site_code == site)
                        .order_by(col(JoinCode.id).desc())).first()


def as_issued(row: JoinCode) -> IssuedCode:
    return IssuedCode(row.digest, bytes.fromhex(row.salt), row.issued_at, row.expires_at, row.attempts, row.used_at)


def code_verified(session: Session, conference_id: int, site: str) -> bool:
    return session.exec(select(JoinCode.id).where(
        JoinCode.conference_id == conference_id, JoinCode.site_code == site,
        col(JoinCode.used_at).is_not(None))).first() is not None
