"""Poll tables (migration 0132_polls) and their queries.

Secret ballots are kept apart by construction: ``poll_tallies`` rows are
created for every option when the poll is created and only ever counted up in
place (no per-vote row, no timestamp, no version), and ``poll_voters`` says that
a voter voted — with no choice and no time. Only open ballots write
``poll_open_votes`` (voter, choice, time), since there who chose what is the record.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, Session, SQLModel, col, select

from hub.polls.model import Ballot, Poll, PollSpec, Unit


class PollRecord(SQLModel, table=True):
    __tablename__ = "polls"

    id: int | None = Field(default=None, primary_key=True)
    conference_id: int = Field(index=True)
    question: str = Field(max_length=500)
    options: list[str] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    ballot: str = Field(max_length=8)
    unit: str = Field(max_length=8)
    closes_at: datetime | None = None
    created_by: str = Field(max_length=100)
    created_at: datetime
    closed_at: datetime | None = None
    closed_by: str = Field(default="", max_length=100)


class PollTally(SQLModel, table=True):
    __tablename__ = "poll_tallies"
    __table_args__ = (sa.UniqueConstraint("poll_id", "option_index", name="uq_poll_tally_option"),)

    id: int | None = Field(default=None, primary_key=True)
    poll_id: int = Field(foreign_key="polls.id", index=True)
    option_index: int
    count: int = 0


class PollVoter(SQLModel, table=True):
    """That a voter voted. Deliberately no choice and no time."""

    __tablename__ = "poll_voters"
    __table_args__ = (sa.UniqueConstraint("poll_id", "voter", name="uq_poll_voter"),)

    id: int | None = Field(default=None, primary_key=True)
    poll_id: int = Field(foreign_key="polls.id", index=True)
    voter: str = Field(max_length=300)  # site code, or "<site>/<person>"
    participant: str = Field(max_length=64)


class PollOpenVote(SQLModel, table=True):
    """Open ballots only: who chose what, and when."""

    __tablename__ = "poll_open_votes"

    id: int | None = Field(default=None, primary_key=True)
    poll_id: int = Field(foreign_key="polls.id", index=True)
    voter: str = Field(max_length=300)
    option_index: int
    voted_at: datetime


class PollSettings(SQLModel, table=True):
    """Per briefing: whether districts may create polls (the chair's choice)."""

    __tablename__ = "poll_settings"

    conference_id: int = Field(primary_key=True)
    districts_may_create: bool = False


def as_poll(rec: PollRecord) -> Poll:
    assert rec.id is not None
    spec = PollSpec(rec.question, tuple(rec.options), Ballot(rec.ballot), Unit(rec.unit), rec.closes_at)
    return Poll(rec.id, rec.conference_id, spec, rec.created_by, rec.created_at, rec.closed_at)


def create(session: Session, conference_id: int, spec: PollSpec, actor: str, at: datetime) -> PollRecord:
    rec = PollRecord(conference_id=conference_id, question=spec.question, options=list(spec.options),
                     ballot=spec.ballot.value, unit=spec.unit.value, closes_at=spec.closes_at,
                     created_by=actor[:100], created_at=at)
    session.add(rec)
    session.flush()
    assert rec.id is not None
    # Every option's counter exists before the first vote: a vote never creates a row.
    session.add_all(PollTally(poll_id=rec.id, option_index=i) for i in range(len(spec.options)))
    return rec


def get(session: Session, conference_id: int, poll_id: int) -> PollRecord | None:
    rec = session.get(PollRecord, poll_id)
    return rec if rec is not None and rec.conference_id == conference_id else None


def for_conference(session: Session, conference_id: int) -> list[PollRecord]:
    return list(session.exec(select(PollRecord).where(PollRecord.conference_id == conference_id)
                             .order_by(col(PollRecord.id))))


def has_voted(session: Session, poll_id: int, voter: str) -> bool:
    return session.exec(select(PollVoter.id).where(PollVoter.poll_id == poll_id, PollVoter.voter == voter)).first() \
        is not None


def cast(session: Session, poll: Poll, voter: str, participant: str, option: int, at: datetime) -> None:
    """Record that ``voter`` voted and count the choice; the open-ballot row only for open ballots."""
    session.add(PollVoter(poll_id=poll.id, voter=voter, participant=participant))
    session.flush()  # the unique constraint refuses a racing double vote here
    session.connection().execute(
        sa.update(PollTally).where(col(PollTally.poll_id) == poll.id, col(PollTally.option_index) == option)
        .values(count=col(PollTally.count) + 1)
    )
    if poll.spec.ballot is Ballot.OPEN:
        session.add(PollOpenVote(poll_id=poll.id, voter=voter, option_index=option, voted_at=at))


def counts(session: Session, poll_id: int) -> list[int]:
    rows = session.exec(select(PollTally).where(PollTally.poll_id == poll_id).order_by(col(PollTally.option_index)))
    return [r.count for r in rows]


def voters(session: Session, poll_id: int) -> list[PollVoter]:
    return list(session.exec(select(PollVoter).where(PollVoter.poll_id == poll_id).order_by(col(PollVoter.voter))))


def open_votes(session: Session, poll_id: int) -> list[PollOpenVote]:
    return list(session.exec(select(PollOpenVote).where(PollOpenVote.poll_id == poll_id)
                             .order_by(col(PollOpenVote.voted_at), col(PollOpenVote.id))))


def districts_may_create(session: Session, conference_id: int) -> bool:
    row = session.get(PollSettings, conference_id)
    return bool(row and row.districts_may_create)
