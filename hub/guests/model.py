"""Guests and browser districts: the pure rules (no I/O, no clock: times are passed in).

- the join window: a link opens ``lead`` before the start and closes at the end;
- the passcode as typed (spaces, Thai digits) and the attempt limits, per address and per
  briefing, as a sliding window over the failed attempts the store remembers;
- the lobby: waiting → admitted | refused; admitted → left | removed; a removed guest stays
  removed for that briefing; a briefing closed to guests takes no new guest;
- who a guest says they are (name, organisation), with markup refused;
- what a link is bound to: the briefing's guest link, or one district's link.

Every refusal carries Thai and English text and the HTTP status the routes answer with.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from hub.briefings.model import format_thai_date


@dataclass(eq=False)
class Refusal(Exception):
    """A clear no, in Thai and English; ``status`` is what an API route answers.

    Not frozen: Python writes ``__traceback__`` on whatever it raises.
    """

    code: str
    th: str
    en: str
    status: int = 400
    field: str = ""
    retry_after_s: int = 0

    @property
    def message(self) -> str:
        return f"{self.th} / {self.en}"

    def to_json(self) -> dict[str, object]:
        body: dict[str, object] = {"error": self.message, "code": self.code, "th": self.th, "en": self.en}
        if self.field:
            body["field"] = self.field
        if self.retry_after_s:
            body["retry_after_s"] = self.retry_after_s
        return body


# --- the join window -----------------------------------------------------------------


class WindowState(StrEnum):
    NOT_YET = "not_yet"
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True)
class JoinWindow:
    opens: datetime  # aware UTC
    closes: datetime

    def state(self, now: datetime, *, over: bool = False) -> WindowState:
        """``over``: the briefing ended early, was cancelled or missed."""
        if over or now >= self.closes:
            return WindowState.CLOSED
        if now < self.opens:
            return WindowState.NOT_YET
        return WindowState.OPEN


def join_window(start: datetime, end: datetime, lead: timedelta) -> JoinWindow:
    return JoinWindow(opens=start - lead, closes=end)


def opens_text(opens: datetime, tz: str) -> tuple[str, str]:
    """("เปิดให้เข้าร่วมเวลา 08:30 น. วันจันทร์ที่ 12 เมษายน 2570", "Opens at 08:30 on Monday 12 April 2027")."""
    local = opens.astimezone(ZoneInfo(tz))
    return (
        f"เปิดให้เข้าร่วมเวลา {local:%H:%M} น. {format_thai_date(local.date())}",
        f"Opens at {local:%H:%M} on {local:%A} {local.day} {local:%B %Y}",
    )


def window_refusal(state: WindowState, window: JoinWindow, tz: str) -> Refusal | None:
    if state is WindowState.NOT_YET:
        th, en = opens_text(window.opens, tz)
        return Refusal("not_open", f"ยังไม่เปิดให้เข้าร่วม {th}", f"Not open yet. {en}", 403)
    if state is WindowState.CLOSED:
        return Refusal("closed", "การประชุมนี้ปิดแล้ว", "This briefing is closed", 410)
    return None


# --- passcode and attempts ------------------------------------------------------------

_THAI_DIGITS = str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789")
PASSCODE_MAX = 32


def normalize_passcode(raw: str) -> str:
    """As typed on a phone: Thai digits, spaces and dashes are accepted."""
    return re.sub(r"[\s\-]", "", raw.translate(_THAI_DIGITS))[:PASSCODE_MAX]


def wrong_passcode() -> Refusal:
    return Refusal("wrong_passcode", "รหัสผ่านไม่ถูกต้อง", "Wrong passcode", 403, "passcode")


@dataclass(frozen=True)
class AttemptPolicy:
    per_address: int  # failed attempts one address may make in ``window``
    per_briefing: int  # failed attempts all addresses together may make in ``window``
    window: timedelta


def attempt_refusal(
    address_failures: Sequence[datetime],
    briefing_failures: Sequence[datetime],
    now: datetime,
    policy: AttemptPolicy,
) -> Refusal | None:
    """A sliding window over failed attempts. Past the limit every attempt is refused, the
    right passcode too, until the oldest failure in the window ages out; a guessing run
    from many addresses is stopped by the per-briefing limit."""
    since = now - policy.window
    for failures, limit, th, en in (
        (address_failures, policy.per_address, "จากเครื่องนี้", "from this device"),
        (briefing_failures, policy.per_briefing, "สำหรับการประชุมนี้", "for this briefing"),
    ):
        recent = sorted(t for t in failures if t > since)
        if len(recent) >= limit:
            # The window frees a slot when the (len - limit + 1)-th newest failure ages out.
            frees_at = recent[len(recent) - limit] + policy.window
            wait = max(1, int((frees_at - now).total_seconds() + 0.999))
            return Refusal(
                "too_many_attempts",
                f"ใส่รหัสผ่านผิดหลายครั้งเกินไป{th} โปรดลองใหม่ในอีก {wait} วินาที",
                f"Too many wrong passcodes {en}; try again in {wait} s",
                429, "passcode", wait,
            )
    return None


# --- who the guest is -------------------------------------------------------------------

NAME_MAX = 100
ORG_MAX = 150
_MARKUP = re.compile(r"[<>{}\\`]|&[#A-Za-z0-9]+;|javascript:", re.IGNORECASE)


@dataclass(frozen=True)
class Identity:
    name: str
    organisation: str

    @property
    def key(self) -> str:
        """For "is this the guest who was removed": case and spacing do not matter."""
        return f"{self.name.casefold()}|{self.organisation.casefold()}"


def _clean(value: str) -> str:
    value = unicodedata.normalize("NFC", value)
    # Control characters (and zero-width tricks) never belong in a name on a tile.
    value = "".join(ch for ch in value if unicodedata.category(ch)[0] != "C")
    return " ".join(value.split())


def parse_identity(name: str, organisation: str) -> Identity:
    """Raises :class:`Refusal` naming the field. Markup is refused rather than silently
    escaped: the name is shown on the chair's list, the program tiles and the attendance
    report, and the guest should see what will be shown."""
    clean_name, clean_org = _clean(name), _clean(organisation)
    for value, field, th, en, limit in (
        (clean_name, "name", "ชื่อ", "name", NAME_MAX),
        (clean_org, "organisation", "หน่วยงาน", "organisation", ORG_MAX),
    ):
        if not value:
            raise Refusal("missing", f"กรุณากรอก{th}", f"Please enter your {en}", 400, field)
        if len(value) > limit:
            raise Refusal("too_long", f"{th}ยาวเกิน {limit} ตัวอักษร", f"The {en} is longer than {limit} characters", 400, field)
        if _MARKUP.search(value):
            raise Refusal(
                "markup", f"{th}มีอักขระที่ไม่อนุญาต (< > {{ }} \\ `)",
                f"The {en} contains characters that are not allowed (< > {{ }} \\ `)", 400, field,
            )
    return Identity(clean_name, clean_org)


# --- links ------------------------------------------------------------------------------------


class LinkKind(StrEnum):
    GUEST = "guest"  # one per occurrence, for everyone the province or a district invites
    DISTRICT = "district"  # one per occurrence and district, in that district's invitation


@dataclass(frozen=True)
class LinkBinding:
    occurrence_id: int
    kind: LinkKind
    site_code: str  # "" for the guest link


def bad_link() -> Refusal:
    return Refusal("bad_link", "ลิงก์ไม่ถูกต้องหรือถูกยกเลิกแล้ว", "This link is not valid or was withdrawn", 404)


def check_binding(binding: LinkBinding | None, occurrence_id: int, site_code: str) -> LinkBinding:
    """The token must belong to this occurrence, and a district token to this district: a
    district's link opened under another district's address is refused, not re-labelled."""
    if binding is None or binding.occurrence_id != occurrence_id or binding.site_code != site_code:
        raise bad_link()
    expected = LinkKind.DISTRICT if site_code else LinkKind.GUEST
    if binding.kind is not expected:
        raise bad_link()
    return binding


# --- the lobby ---------------------------------------------------------------------------------


class GuestStatus(StrEnum):
    WAITING = "waiting"  # in the lobby
    ADMITTED = "admitted"
    REFUSED = "refused"  # the chair said no (or the briefing was closed while waiting)
    REMOVED = "removed"  # taken out by the chair: cannot come back with the same link
    LEFT = "left"  # left by itself: may come back


class LobbyEvent(StrEnum):
    ADMIT = "admit"
    REFUSE = "refuse"
    REMOVE = "remove"
    LEAVE = "leave"
    CLOSE = "close"  # the briefing is closed to guests


_LOBBY: dict[tuple[GuestStatus, LobbyEvent], GuestStatus] = {
    (GuestStatus.WAITING, LobbyEvent.ADMIT): GuestStatus.ADMITTED,
    (GuestStatus.WAITING, LobbyEvent.REFUSE): GuestStatus.REFUSED,
    (GuestStatus.WAITING, LobbyEvent.REMOVE): GuestStatus.REMOVED,
    (GuestStatus.WAITING, LobbyEvent.LEAVE): GuestStatus.LEFT,
    (GuestStatus.WAITING, LobbyEvent.CLOSE): GuestStatus.REFUSED,
    (GuestStatus.ADMITTED, LobbyEvent.REMOVE): GuestStatus.REMOVED,
    (GuestStatus.ADMITTED, LobbyEvent.LEAVE): GuestStatus.LEFT,
    (GuestStatus.LEFT, LobbyEvent.REMOVE): GuestStatus.REMOVED,
    (GuestStatus.REFUSED, LobbyEvent.REMOVE): GuestStatus.REMOVED,
}


def lobby_next(status: GuestStatus, event: LobbyEvent) -> GuestStatus:
    """The next status, or a 409 :class:`Refusal` (admitting a removed guest, leaving twice)."""
    nxt = _LOBBY.get((status, event))
    if nxt is None:
        raise Refusal(
            "illegal", f"ทำรายการนี้ไม่ได้ในสถานะ {status.value}",
            f"Cannot {event.value} a guest who is {status.value}", 409,
        )
    return nxt


def removed() -> Refusal:
    return Refusal("removed", "ท่านถูกเชิญออกจากการประชุมนี้ จึงเข้าร่วมด้วยลิงก์นี้อีกไม่ได้",
                   "You were removed from this briefing and cannot rejoin with this link", 403)


def closed_to_guests() -> Refusal:
    return Refusal("closed_to_guests", "การประชุมนี้ปิดรับผู้เข้าร่วมจากภายนอกแล้ว",
                   "This briefing is closed to guests", 403)


def status_on_join(
    previous: GuestStatus | None,
    *,
    kind: LinkKind,
    admit_directly: bool,
    closed: bool,
) -> GuestStatus:
    """Where a (re)joining browser lands. A district is invited: it is admitted at once and
    never subject to closing the briefing to guests. A guest who left and comes back, or was
    admitted before, skips the lobby; one the chair refused may ask again."""
    if previous is GuestStatus.REMOVED:
        raise removed()
    if kind is LinkKind.DISTRICT:
        return GuestStatus.ADMITTED
    if closed:
        raise closed_to_guests()
    if previous in (GuestStatus.ADMITTED, GuestStatus.LEFT) or admit_directly:
        return GuestStatus.ADMITTED
    return GuestStatus.WAITING


@dataclass(frozen=True)
class Interval:
    """A stretch of time in the briefing (admitted → left/removed/closed), for attendance."""

    start: datetime
    end: datetime | None = None
    reason: str = ""


def open_interval(intervals: Sequence[Interval], now: datetime) -> list[Interval]:
    out = list(intervals)
    if out and out[-1].end is None:
        return out
    return [*out, Interval(now)]


def close_interval(intervals: Sequence[Interval], now: datetime, reason: str) -> list[Interval]:
    out = list(intervals)
    if out and out[-1].end is None:
        out[-1] = Interval(out[-1].start, now, reason)
    return out


def web_guest_key(guest_id: int) -> str:
    """A browser guest in the identity, polls and evidence rooms (their ``guest:`` prefix; the
    ``web-`` part keeps it apart from the identity API's own ``guest:<n>`` numbering)."""
    return f"guest:web-{guest_id}"
