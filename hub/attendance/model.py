"""Attendance intervals, pure: why an interval opened or closed, and what they add up to.

Every join and leave of every site is an interval ``[start, end)`` with the
reason it opened and the reason it closed; an interval is closed once and
never rewritten, so the record of a briefing is the list of its intervals.
The floor is recorded the same way (grant → release/revoke). No I/O and no
clock reads: times are passed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class Opened(StrEnum):
    JOINED = "joined"  # the media path came up (the hub answered the site's offer)
    BROWSER = "browser"  # the district joined from a browser with its district link (issue 15)


class Closed(StrEnum):
    LEFT = "left"  # the clerk pressed leave
    LINK_LOST = "link_lost"  # the control channel dropped
    HUB_RESTART = "hub_restart"  # the hub stopped (or crashed) while the site was in
    REMOVED = "removed"  # the chair removed the site from the conference
    ENDED = "ended"  # the conference ended


class FloorClosed(StrEnum):
    RELEASED = "released"  # the site gave the floor back
    REVOKED = "revoked"  # the chair (or the agenda) took it
    ENDED = "ended"
    HUB_RESTART = "hub_restart"


REASON_LABELS: dict[str, tuple[str, str]] = {
    "joined": ("เข้าร่วม", "joined"),
    "browser": ("เข้าร่วมทางเบราว์เซอร์", "joined from a browser"),
    "left": ("ออกโดยเจ้าหน้าที่", "left by the clerk"),
    "link_lost": ("สัญญาณหลุด", "link lost"),
    "hub_restart": ("ศูนย์กลางเริ่มระบบใหม่", "hub restart"),
    "removed": ("ประธานนำออก", "removed by the chair"),
    "ended": ("การประชุมจบ", "conference ended"),
    "released": ("คืนสิทธิ์", "released"),
    "revoked": ("ประธานเรียกคืน", "revoked"),
}


@dataclass(frozen=True)
class Span:
    """One recorded interval; ``end`` is None while it is still open."""

    site: str
    start: datetime
    end: datetime | None
    opened: str
    closed: str | None = None


def clip_seconds(start: datetime, end: datetime, lo: datetime, hi: datetime) -> float:
    """Seconds of ``[start, end)`` inside ``[lo, hi)``."""
    a, b = max(start, lo), min(end, hi)
    return max(0.0, (b - a).total_seconds())


def union_seconds(spans: Iterable[tuple[datetime, datetime]], lo: datetime, hi: datetime) -> float:
    """Seconds covered by the union of intervals inside ``[lo, hi)``.

    Two intervals of one site should never overlap, but a crash between a
    join and its write could leave one; the union never counts a second twice.
    """
    clipped = sorted((max(a, lo), min(b, hi)) for a, b in spans if min(b, hi) > max(a, lo))
    total = 0.0
    cur_a: datetime | None = None
    cur_b: datetime | None = None
    for a, b in clipped:
        if cur_b is None or a > cur_b:
            if cur_a is not None and cur_b is not None:
                total += (cur_b - cur_a).total_seconds()
            cur_a, cur_b = a, b
        elif b > cur_b:
            cur_b = b
    if cur_a is not None and cur_b is not None:
        total += (cur_b - cur_a).total_seconds()
    return total


class Presence(StrEnum):
    ON_TIME = "on_time"
    LATE = "late"
    ABSENT = "absent"


@dataclass(frozen=True)
class BriefingAttendance:
    """One site in one briefing, from its intervals alone."""

    presence: Presence
    left_early: bool
    dropped: bool  # at least one interval closed by link loss or a hub restart
    first_join: datetime | None
    last_leave: datetime | None
    seconds: float


def classify(
    spans: Sequence[tuple[datetime, datetime, str | None]],
    start: datetime,
    end: datetime,
    late_after: timedelta,
    early_before: timedelta,
) -> BriefingAttendance:
    """On time / late / absent and left early for one site in the briefing ``[start, end)``.

    ``spans`` are the site's closed intervals of that briefing (start, end,
    close reason). On time: joined by ``start + late_after``. Left early: the
    last interval ends more than ``early_before`` before the briefing's end
    and the conference did not end it.
    """
    inside = [(a, b, why) for a, b, why in spans if b > start and a < end]
    seconds = union_seconds(((a, b) for a, b, _ in inside), start, end)
    if not inside or seconds <= 0:
        return BriefingAttendance(Presence.ABSENT, False, False, None, None, 0.0)
    first = min(a for a, _, _ in inside)
    last_span = max(inside, key=lambda s: s[1])
    last = last_span[1]
    presence = Presence.ON_TIME if first <= start + late_after else Presence.LATE
    left_early = last < end - early_before and last_span[2] != Closed.ENDED
    dropped = any(why in (Closed.LINK_LOST, Closed.HUB_RESTART) for _, _, why in inside)
    return BriefingAttendance(presence, left_early, dropped, first, last, seconds)
