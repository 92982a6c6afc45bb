"""Who is in the room, pure: identities, roll calls, one-time join codes.

No I/O and no clock reads: every time is passed in. Refusals are typed
(:class:`IdentityRefused`) and carry Thai and English text for the clerk, the
guest and the control room alike.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

GUEST_PREFIX = "guest:"
MAX_PEOPLE = 30  # a district's meeting room, generously


class Refusal(StrEnum):
    EMPTY_NAME = "empty_name"
    TOO_MANY = "too_many_people"
    NOT_IN_BRIEFING = "not_in_briefing"
    UNKNOWN_BRIEFING = "unknown_briefing"
    ROLL_CALL_CLOSED = "roll_call_closed"
    ROLL_CALL_ANSWERED = "roll_call_answered"
    NO_ROLL_CALL = "no_roll_call"
    ROLL_CALL_RUNNING = "roll_call_running"
    CONFIDENTIAL_NO_GUESTS = "confidential_no_guests"
    SECOND_FACTOR_REQUIRED = "second_factor_required"
    CODE_WRONG = "code_wrong"
    CODE_EXPIRED = "code_expired"
    CODE_USED = "code_used"
    CODE_ATTEMPTS = "code_attempts"
    NO_CONTACT = "no_contact_email"


TEXT: dict[Refusal, tuple[str, str]] = {
    Refusal.EMPTY_NAME: ("กรุณากรอกชื่อ", "a name is required"),
    Refusal.TOO_MANY: (f"ระบุได้ไม่เกิน {MAX_PEOPLE} คน", f"at most {MAX_PEOPLE} people per site"),
    Refusal.NOT_IN_BRIEFING: ("ไม่ได้อยู่ในการประชุมนี้", "not a participant of this briefing"),
    Refusal.UNKNOWN_BRIEFING: ("ไม่พบการประชุม", "no such briefing"),
    Refusal.ROLL_CALL_CLOSED: ("หมดเวลาขานชื่อแล้ว", "the roll call has closed"),
    Refusal.ROLL_CALL_ANSWERED: ("ขานชื่อแล้ว", "already answered this roll call"),
    Refusal.NO_ROLL_CALL: ("ไม่มีการขานชื่อ", "no such roll call"),
    Refusal.ROLL_CALL_RUNNING: ("มีการขานชื่ออยู่แล้ว", "a roll call is already running"),
    Refusal.CONFIDENTIAL_NO_GUESTS: ("การประชุมลับไม่รับบุคคลภายนอก", "a confidential briefing admits no guests"),
    Refusal.SECOND_FACTOR_REQUIRED: ("การประชุมลับต้องยืนยันรหัสผ่านอีเมลก่อนเข้าร่วม",
                                     "a confidential briefing needs the one-time code sent by e-mail"),
    Refusal.CODE_WRONG: ("รหัสไม่ถูกต้อง", "wrong code"),
    Refusal.CODE_EXPIRED: ("รหัสหมดอายุ ขอรหัสใหม่", "the code has expired; ask for a new one"),
    Refusal.CODE_USED: ("รหัสถูกใช้ไปแล้ว", "the code was already used"),
    Refusal.CODE_ATTEMPTS: ("ใส่รหัสผิดหลายครั้ง ขอรหัสใหม่", "too many wrong codes; ask for a new one"),
    Refusal.NO_CONTACT: ("อำเภอนี้ไม่มีอีเมลผู้ติดต่อที่ลงทะเบียนไว้", "the district has no registered contact e-mail"),
}


class IdentityRefused(Exception):
    def __init__(self, reason: Refusal, detail: str = "") -> None:
        th, en = TEXT[reason]
        self.reason = reason
        self.message_th, self.message_en = th, en
        super().__init__(f"{th} / {en}" + (f" ({detail})" if detail else ""))


def is_guest(participant: str) -> bool:
    return participant.startswith(GUEST_PREFIX)


@dataclass(frozen=True)
class Person:
    """One person in a district's room (name, position), or a guest (name, organisation)."""

    name: str
    position: str = ""
    organisation: str = ""

    def cleaned(self) -> Person:
        name = " ".join(self.name.split())
        if not name:
            raise IdentityRefused(Refusal.EMPTY_NAME)
        return Person(name[:200], " ".join(self.position.split())[:200], " ".join(self.organisation.split())[:200])


def check_people(people: list[Person]) -> list[Person]:
    if not people:
        raise IdentityRefused(Refusal.EMPTY_NAME)
    if len(people) > MAX_PEOPLE:
        raise IdentityRefused(Refusal.TOO_MANY)
    return [p.cleaned() for p in people]


def check_join(participant: str, roster: set[str], confidential: bool, second_factor_ok: bool) -> None:
    """May ``participant`` join? Guests are admitted by the guests room; a confidential briefing
    refuses them outright and asks every district for its one-time code."""
    if confidential and is_guest(participant):
        raise IdentityRefused(Refusal.CONFIDENTIAL_NO_GUESTS)
    if not is_guest(participant) and participant not in roster:
        raise IdentityRefused(Refusal.NOT_IN_BRIEFING, participant)
    if confidential and not second_factor_ok:
        raise IdentityRefused(Refusal.SECOND_FACTOR_REQUIRED)


# --- roll call --------------------------------------------------------------------------------


@dataclass
class RollCall:
    id: int
    started_at: datetime
    deadline: datetime
    expected: tuple[str, ...]
    answers: dict[str, datetime] = field(default_factory=dict)

    def is_open(self, now: datetime) -> bool:
        return now < self.deadline

    def confirm(self, participant: str, now: datetime) -> None:
        if participant not in self.expected:
            raise IdentityRefused(Refusal.NOT_IN_BRIEFING, participant)
        if not self.is_open(now):
            raise IdentityRefused(Refusal.ROLL_CALL_CLOSED)
        if participant in self.answers:
            raise IdentityRefused(Refusal.ROLL_CALL_ANSWERED)
        self.answers[participant] = now

    def state(self, now: datetime) -> RollCallState:
        answered = [p for p in self.expected if p in self.answers]
        missing = [p for p in self.expected if p not in self.answers]
        remaining = max(0.0, (self.deadline - now).total_seconds())
        return RollCallState(self.id, self.is_open(now), remaining, answered, missing,
                             {p: self.answers[p] for p in answered}, self.deadline)


@dataclass(frozen=True)
class RollCallState:
    id: int
    open: bool
    seconds_left: float
    answered: list[str]
    missing: list[str]
    answered_at: dict[str, datetime]
    deadline: datetime | None = None


# --- one-time join codes (second factor) ------------------------------------------------------

CODE_DIGITS = 6


def code_from(random_value: int) -> str:
    """A six-digit code from the caller's randomness (the service passes ``secrets``)."""
    return f"{random_value % 10**CODE_DIGITS:0{CODE_DIGITS}d}"


def code_digest(salt: bytes, code: str) -> str:
    # Stored keyed with a per-code salt: a leaked table does not hand out codes.
    return hmac.new(salt, code.strip().encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class IssuedCode:
    digest: str
    salt: bytes
    issued_at: datetime
    expires_at: datetime
    attempts: int
    used_at: datetime | None


def check_code(issued: IssuedCode | None, presented: str, now: datetime, max_attempts: int) -> None:
    """Accept or raise; the caller counts the attempt whatever the outcome."""
    if issued is None:
        raise IdentityRefused(Refusal.CODE_WRONG)
    if issued.used_at is not None:
        raise IdentityRefused(Refusal.CODE_USED)
    if issued.attempts >= max_attempts:
        raise IdentityRefused(Refusal.CODE_ATTEMPTS)
    if now >= issued.expires_at:
        raise IdentityRefused(Refusal.CODE_EXPIRED)
    if not hmac.compare_digest(code_digest(issued.salt, presented), issued.digest):
        raise IdentityRefused(Refusal.CODE_WRONG)


def code_expiry(issued_at: datetime, ttl_s: float) -> datetime:
    return issued_at + timedelta(seconds=ttl_s)
