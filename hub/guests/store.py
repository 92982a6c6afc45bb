"""Tables of the guests room and their queries.

Access links are stored hashed: a leaked database (a backup, a dump for a report) must not
let anyone into a briefing. The plain token is derived again when a letter needs it (see
:mod:`hub.guests.service`), so an update mail repeats the same link. A ``generation`` bump
withdraws a link (a removed district gets a new one only from the chair).
The passcode is kept as an argon2 hash.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, Session, SQLModel, col, select

from hub.models import utcnow


class GuestLink(SQLModel, table=True):
    __tablename__ = "guest_links"
    __table_args__ = (sa.UniqueConstraint("occurrence_id", "kind", "site_code"),)

    id: int | None = Field(default=None, primary_key=True)
    occurrence_id: int = Field(foreign_key="briefing_occurrences.id", index=True)
    kind: str = Field(max_length=16)  # guest | district
    site_code: str = Field(default="", max_length=32)
    token_hash: str = Field(max_length=64, unique=True, index=True)  # SHA-256 of the token
    generation: int = 0
    created_at: datetime = Field(default_factory=utcnow)


class GuestPasscode(SQLModel, table=True):
    __tablename__ = "guest_passcodes"

    id: int | None = Field(default=None, primary_key=True)
    series_id: int = Field(foreign_key="briefing_series.id", unique=True, index=True)
    passcode_hash: str = Field(max_length=255)  # argon2id
    updated_at: datetime = Field(default_factory=utcnow)


class GuestPolicy(SQLModel, table=True):
    """Per series: guests straight in, or through the lobby (the chair's choice)."""

    __tablename__ = "guest_policies"

    id: int | None = Field(default=None, primary_key=True)
    series_id: int = Field(foreign_key="briefing_series.id", unique=True, index=True)
    admit_directly: bool = False
    updated_by: str = Field(default="", max_length=100)
    updated_at: datetime = Field(default_factory=utcnow)


class GuestClosure(SQLModel, table=True):
    """An occurrence the chair closed to guests (districts by browser are not affected)."""

    __tablename__ = "guest_closures"

    id: int | None = Field(default=None, primary_key=True)
    occurrence_id: int = Field(foreign_key="briefing_occurrences.id", unique=True, index=True)
    closed_by: str = Field(default="", max_length=100)
    closed_at: datetime = Field(default_factory=utcnow)


class Guest(SQLModel, table=True):
    """One browser in one occurrence: a guest, or a district joined by its district link."""

    __tablename__ = "guests"

    id: int | None = Field(default=None, primary_key=True)
    occurrence_id: int = Field(foreign_key="briefing_occurrences.id", index=True)
    kind: str = Field(max_length=16)  # guest | district
    site_code: str = Field(default="", max_length=32)
    name: str = Field(max_length=100)
    organisation: str = Field(max_length=150)
    identity_key: str = Field(default="", max_length=300, index=True)
    status: str = Field(max_length=16, index=True)  # hub.guests.model.GuestStatus
    # SHA-256 of the browser's seat secret (kept in its encrypted session cookie)
    seat_hash: str = Field(max_length=64, unique=True, index=True)
    hand_raised: bool = False
    may_unmute: bool = False
    # [{"start": iso, "end": iso|null, "reason": str}]: every stretch in the briefing, kept
    intervals: list[dict[str, Any]] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    ip: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class GuestAttempt(SQLModel, table=True):
    """Every passcode attempt: the rate limits count the failed ones in a sliding window."""

    __tablename__ = "guest_attempts"

    id: int | None = Field(default=None, primary_key=True)
    occurrence_id: int = Field(index=True)
    ip: str = Field(max_length=64, index=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    ok: bool = False


def failures_since(s: Session, occurrence_id: int, ip: str, since: datetime) -> tuple[list[datetime], list[datetime]]:
    """(this address's, this briefing's) failed attempts after ``since``."""
    rows = s.exec(
        select(GuestAttempt.at, GuestAttempt.ip)
        .where(GuestAttempt.occurrence_id == occurrence_id, col(GuestAttempt.ok).is_(False),
               GuestAttempt.at > since)
    ).all()
    return [at for at, who in rows if who == ip], [at for at, _who in rows]


def link_by_hash(s: Session, token_hash: str) -> GuestLink | None:
    return s.exec(select(GuestLink).where(GuestLink.token_hash == token_hash)).first()


def links_of(s: Session, occurrence_ids: list[int]) -> list[GuestLink]:
    if not occurrence_ids:
        return []
    return list(s.exec(select(GuestLink).where(col(GuestLink.occurrence_id).in_(occurrence_ids))))


def guest_by_seat(s: Session, seat_hash: str) -> Guest | None:
    return s.exec(select(Guest).where(Guest.seat_hash == seat_hash)).first()


def guests_of(s: Session, occurrence_id: int) -> list[Guest]:
    return list(s.exec(select(Guest).where(Guest.occurrence_id == occurrence_id).order_by(col(Guest.id))))


def removed_identity(s: Session, occurrence_id: int, identity_key: str) -> bool:
    return s.exec(
        select(Guest.id).where(Guest.occurrence_id == occurrence_id, Guest.identity_key == identity_key,
                               Guest.status == "removed")
    ).first() is not None


def is_closed(s: Session, occurrence_id: int) -> bool:
    return s.exec(select(GuestClosure.id).where(GuestClosure.occurrence_id == occurrence_id)).first() is not None


def policy_of(s: Session, series_id: int) -> GuestPolicy | None:
    return s.exec(select(GuestPolicy).where(GuestPolicy.series_id == series_id)).first()


def passcode_of(s: Session, series_id: int) -> GuestPasscode | None:
    return s.exec(select(GuestPasscode).where(GuestPasscode.series_id == series_id)).first()
