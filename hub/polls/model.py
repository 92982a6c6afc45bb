"""Polls, pure: a poll's terms, who may vote, the refusals and the tally.

A poll is open or secret ballot, counted per site or per identified person,
and closes at a set time or when the chair closes it. No I/O, no clock reads:
``now`` is passed in. Refusals are typed (:class:`PollRefused`) with Thai and
English text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

MAX_OPTIONS = 10


class Ballot(StrEnum):
    OPEN = "open"  # who chose what is part of the record
    SECRET = "secret"  # that a voter voted, and the tally; never who chose what


class Unit(StrEnum):
    SITE = "site"  # one vote per district (or guest)
    PERSON = "person"  # one vote per person confirmed present (hub.identity)


class Refusal(StrEnum):
    UNKNOWN_POLL = "unknown_poll"
    CLOSED = "poll_closed"
    DOUBLE_VOTE = "double_vote"
    NOT_IN_BRIEFING = "not_in_briefing"
    BAD_OPTION = "bad_option"
    NOT_IDENTIFIED = "not_identified"
    PERSON_REQUIRED = "person_required"
    CREATE_NOT_ALLOWED = "create_not_allowed"
    BAD_POLL = "bad_poll"
    ALREADY_CLOSED = "already_closed"
    BRIEFING_ENDED = "briefing_ended"


TEXT: dict[Refusal, tuple[str, str]] = {
    Refusal.UNKNOWN_POLL: ("ไม่พบการลงมตินี้ในการประชุม", "no such poll in this briefing"),
    Refusal.CLOSED: ("ปิดการลงมติแล้ว", "the poll has closed"),
    Refusal.DOUBLE_VOTE: ("ลงมติไปแล้ว ลงซ้ำไม่ได้", "already voted; a vote cannot be cast twice"),
    Refusal.NOT_IN_BRIEFING: ("ไม่ได้อยู่ในการประชุมนี้ จึงลงมติไม่ได้", "not a participant of this briefing"),
    Refusal.BAD_OPTION: ("ไม่มีตัวเลือกนี้", "no such option"),
    Refusal.NOT_IDENTIFIED: ("ผู้ลงมติยังไม่ได้ยืนยันตัวตนในห้องประชุม",
                             "this person has not been confirmed present at the site"),
    Refusal.PERSON_REQUIRED: ("การลงมติรายบุคคลต้องระบุชื่อผู้ลงมติ", "a per-person poll needs the voter's name"),
    Refusal.CREATE_NOT_ALLOWED: ("ประธานยังไม่อนุญาตให้อำเภอตั้งการลงมติ",
                                 "the chair has not allowed districts to create polls"),
    Refusal.BAD_POLL: ("การลงมติไม่ถูกต้อง", "the poll is not valid"),
    Refusal.ALREADY_CLOSED: ("ปิดการลงมติไปแล้ว", "the poll was already closed"),
    Refusal.BRIEFING_ENDED: ("การประชุมจบแล้ว", "the briefing has ended"),
}


class PollRefused(Exception):
    def __init__(self, reason: Refusal, detail: str = "") -> None:
        th, en = TEXT[reason]
        self.reason = reason
        self.message_th, self.message_en = th, en
        super().__init__(f"{th} / {en}" + (f" ({detail})" if detail else ""))


@dataclass(frozen=True)
class PollSpec:
    question: str
    options: tuple[str, ...]
    ballot: Ballot = Ballot.OPEN
    unit: Unit = Unit.SITE
    closes_at: datetime | None = None  # None: the chair closes it

    def checked(self, now: datetime) -> PollSpec:
        question = " ".join(self.question.split())
        options = tuple(" ".join(o.split()) for o in self.options)
        if not question:
            raise PollRefused(Refusal.BAD_POLL, "question is empty")
        if not 2 <= len(options) <= MAX_OPTIONS:
            raise PollRefused(Refusal.BAD_POLL, f"2–{MAX_OPTIONS} options")
        if any(not o for o in options) or len(set(options)) != len(options):
            raise PollRefused(Refusal.BAD_POLL, "options must be distinct and not empty")
        if self.closes_at is not None and self.closes_at <= now:
            raise PollRefused(Refusal.BAD_POLL, "closing time is in the past")
        return PollSpec(question[:500], tuple(o[:200] for o in options), self.ballot, self.unit, self.closes_at)


@dataclass(frozen=True)
class Poll:
    id: int
    conference_id: int
    spec: PollSpec
    created_by: str
    created_at: datetime
    closed_at: datetime | None = None

    def is_open(self, now: datetime) -> bool:
        if self.closed_at is not None:
            return False
        return self.spec.closes_at is None or now < self.spec.closes_at

    def ended_at(self, now: datetime) -> datetime | None:
        """When voting stopped: the manual close, or the closing time once passed."""
        if self.closed_at is not None:
            return self.closed_at
        if self.spec.closes_at is not None and now >= self.spec.closes_at:
            return self.spec.closes_at
        return None


@dataclass(frozen=True)
class Voter:
    participant: str  # site code or "guest:<n>"
    person: str | None = None  # the person's confirmed name, for per-person polls

    def key(self, unit: Unit) -> str:
        """What "one vote" is counted against: the site, or the person at the site."""
        return self.participant if unit is Unit.SITE else f"{self.participant}/{self.person}"


def check_vote(poll: Poll | None, voter: Voter, option: int, *, roster: set[str], identified: set[str],
               already_voted: bool, now: datetime) -> str:
    """Accept a vote (returns the voter key) or raise the refusal; checks in the order a
    person would want to hear them (wrong poll before "you already voted")."""
    if poll is None:
        raise PollRefused(Refusal.UNKNOWN_POLL)
    if voter.participant not in roster:
        raise PollRefused(Refusal.NOT_IN_BRIEFING, voter.participant)
    if not poll.is_open(now):
        raise PollRefused(Refusal.CLOSED)
    if not 0 <= option < len(poll.spec.options):
        raise PollRefused(Refusal.BAD_OPTION, str(option))
    if poll.spec.unit is Unit.PERSON:
        if not voter.person:
            raise PollRefused(Refusal.PERSON_REQUIRED)
        if voter.person not in identified:
            raise PollRefused(Refusal.NOT_IDENTIFIED, voter.person)
    if already_voted:
        raise PollRefused(Refusal.DOUBLE_VOTE)
    return voter.key(poll.spec.unit)


@dataclass(frozen=True)
class Result:
    options: tuple[str, ...]
    counts: tuple[int, ...]
    voters: int

    @property
    def total(self) -> int:
        return sum(self.counts)

    @property
    def leaders(self) -> tuple[int, ...]:
        """Indexes of the options with the most votes (several on a tie; none with no votes)."""
        top = max(self.counts, default=0)
        return tuple(i for i, c in enumerate(self.counts) if c == top and top > 0)

    def shares(self) -> tuple[float, ...]:
        total = self.total
        return tuple(round(100.0 * c / total, 1) if total else 0.0 for c in self.counts)


def tally(options: Sequence[str], counts: Sequence[int], voters: int) -> Result:
    if len(options) != len(counts):
        raise ValueError("one count per option")
    return Result(tuple(options), tuple(counts), voters)
