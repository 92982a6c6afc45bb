"""What each district actually gets, per conference: pure (times are passed in, epoch seconds).

States, as the control room shows them (Thai first):

- ``connecting``: joined, waiting for its first picture;
- ``in_program``: its pictures arrive at the hub;
- ``reconnecting``: the media path failed or stalled; the hub is making a fresh
  offer/answer (``since``, attempt ``attempt``);
- ``no_picture``: connected, but no new picture for more than the stall limit (``since``);
- ``out``: not in the call (offline, left, refused, not yet joined).

A stall leads to a rejoin only once the control channel has proved itself
after the picture stopped (a message arrived, ``settle_s`` ago): in a full cut the
old connection heals by itself when the network returns, and a join queued
behind TCP retransmissions would only tear it down again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

State = Literal["connecting", "in_program", "reconnecting", "no_picture", "out"]

LABELS: dict[str, tuple[str, str]] = {
    "connecting": ("กำลังเชื่อมต่อ", "connecting"),
    "in_program": ("อยู่ในรายการ", "in program"),
    "reconnecting": ("กำลังเชื่อมต่อใหม่", "reconnecting"),
    "no_picture": ("ไม่มีภาพ", "no picture"),
    "out": ("ไม่ได้เข้าร่วม", "out"),
}

STALL_S = 2.0  # no new picture for this long: a stall
SETTLE_S = 1.5  # the control channel must have been back this long before a stall rejoins
FLAP_WINDOW_S = 300.0
FLAP_LIMIT = 3  # more reconnects than this inside the window: an alarm


def backoff_s(attempt: int, base: float = 0.5, cap: float = 2.0) -> float:
    """Delay before rejoin attempt ``attempt`` (1, 2, ...): short, the district is waiting."""
    return min(cap, base * (2 ** max(0, attempt - 1)))


@dataclass
class SiteMedia:
    state: State = "out"
    since: float = 0.0
    attempt: int = 0
    stall_since: float | None = None  # the picture stopped (no_picture)
    control_after_stall: float | None = None  # first control message seen after that
    reconnects: list[float] = field(default_factory=list)  # starts of reconnect episodes
    flap_alarm_at: float | None = None
    reason: str = ""
    answers: int = 0  # offer/answer exchanges completed (tells one attempt from the next)

    def set(self, state: State, now: float, reason: str = "") -> bool:
        """Move to ``state``; False when it was already there (``since`` kept)."""
        if state == self.state:
            return False
        self.state, self.since, self.reason = state, now, reason
        if state != "no_picture":
            self.stall_since = self.control_after_stall = None
        if state in ("in_program", "out"):
            self.attempt = 0
        return True

    def stalled(self, now: float, age_s: float) -> None:
        self.set("no_picture", now - age_s, "no picture")
        self.stall_since = now - age_s

    def reconnecting(self, now: float, reason: str) -> bool:
        """A new attempt; True when it starts a new reconnect episode (counted for the alarm)."""
        self.attempt += 1
        episode = self.state != "reconnecting"
        if episode:
            self.reconnects = [t for t in self.reconnects if now - t < FLAP_WINDOW_S] + [now]
        self.state, self.reason = "reconnecting", reason
        if episode:
            self.since = now
        self.stall_since = self.control_after_stall = None
        return episode

    def flapping(self, now: float) -> bool:
        """More than FLAP_LIMIT reconnects in the window, and not alarmed inside it already."""
        recent = [t for t in self.reconnects if now - t < FLAP_WINDOW_S]
        if len(recent) <= FLAP_LIMIT:
            return False
        if self.flap_alarm_at is not None and now - self.flap_alarm_at < FLAP_WINDOW_S:
            return False
        self.flap_alarm_at = now
        return True

    def control_seen(self, last_seen: float | None, now: float) -> None:
        if self.stall_since is not None and self.control_after_stall is None and last_seen is not None \
                and last_seen > self.stall_since:
            self.control_after_stall = now

    def stall_needs_rejoin(self, now: float, stall_s: float = STALL_S, settle_s: float = SETTLE_S) -> bool:
        return (self.state == "no_picture" and self.stall_since is not None
                and now - self.stall_since > stall_s
                and self.control_after_stall is not None and now - self.control_after_stall >= settle_s)

    def to_dict(self) -> dict[str, Any]:
        th, en = LABELS[self.state]
        recent = len(self.reconnects)
        return {"state": self.state, "since": self.since or None, "attempt": self.attempt or None,
                "reason": self.reason or None, "label_th": th, "label_en": en, "reconnects": recent}
