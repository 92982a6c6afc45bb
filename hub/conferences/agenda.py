"""Agenda mode: a timed speaking order walked district by district.

Pure: every method takes the current clock value (seconds since the epoch,
so that a persisted agenda carries on after a hub restart) and the set of sites that are online, and returns an
:class:`AgendaStep` describing who had the floor and who has it now. The
conference applies the step (grant, layout, microphones); this module only
decides.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, Literal

AgendaStatus = Literal["ready", "running", "paused", "done"]


class AgendaError(ValueError):
    pass


@dataclass(frozen=True)
class AgendaItem:
    site: str
    duration_s: float

    def __post_init__(self) -> None:
        if not self.site:
            raise AgendaError("an agenda item needs a site")
        if not 5 <= self.duration_s <= 4 * 3600:
            raise AgendaError(
                f"speaking time for {self.site} must be 5 s to 4 h, not {self.duration_s} s"
            )


@dataclass(frozen=True)
class AgendaStep:
    """The outcome of an agenda operation."""

    previous: str | None
    current: str | None
    skipped: tuple[str, ...] = ()
    done: bool = False

    @property
    def changed(self) -> bool:
        return self.previous != self.current

    def to_dict(self) -> dict[str, Any]:
        return {"previous": self.previous, "current": self.current,
                "skipped": list(self.skipped), "done": self.done}


@dataclass
class Agenda:
    items: list[AgendaItem]
    index: int = -1  # -1: not started
    status: AgendaStatus = "ready"
    slot_started_at: float | None = None  # clock at the start of the current slot
    extra_s: float = 0.0  # extensions granted to the current slot
    paused_at: float | None = None
    skipped: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.items:
            raise AgendaError("an agenda needs at least one speaker")

    @classmethod
    def uniform(cls, sites: Collection[str], minutes: float) -> Agenda:
        return cls([AgendaItem(s, minutes * 60) for s in sites])

    # --- queries -----------------------------------------------------------------
    def current(self) -> AgendaItem | None:
        if self.status in ("running", "paused") and 0 <= self.index < len(self.items):
            return self.items[self.index]
        return None

    def current_site(self) -> str | None:
        item = self.current()
        return item.site if item else None

    def remaining(self, now: float) -> float | None:
        """Seconds left for the current speaker (frozen while paused)."""
        item = self.current()
        if item is None or self.slot_started_at is None:
            return None
        at = self.paused_at if self.paused_at is not None else now
        return max(0.0, item.duration_s + self.extra_s - (at - self.slot_started_at))

    # --- operations -------------------------------------------------------------------
    def start(self, now: float, online: Collection[str]) -> AgendaStep:
        if self.status != "ready":
            raise AgendaError(f"the agenda is already {self.status}")
        return self._go(0, now, online, previous=None)

    def tick(self, now: float, online: Collection[str]) -> AgendaStep | None:
        """Advance when the current speaker's time is up; None if nothing changes."""
        if self.status != "running":
            return None
        left = self.remaining(now)
        if left is not None and left <= 0:
            return self.next(now, online)
        return None

    def next(self, now: float, online: Collection[str]) -> AgendaStep:
        """The current speaker is done (time up, released, or the chair says next)."""
        if self.status not in ("running", "paused"):
            raise AgendaError(f"the agenda is {self.status}, not running")
        return self._go(self.index + 1, now, online, previous=self.current_site())

    def jump(self, target: int | str, now: float, online: Collection[str]) -> AgendaStep:
        """Go straight to an item (by position or site code)."""
        if self.status == "done":
            raise AgendaError("the agenda is finished")
        if isinstance(target, str):
            matches = [i for i, it in enumerate(self.items) if it.site == target]
            if not matches:
                raise AgendaError(f"{target} is not on the agenda")
            index = matches[0]
        else:
            index = target
        if not 0 <= index < len(self.items):
            raise AgendaError(f"agenda position {index} is outside 0..{len(self.items) - 1}")
        site = self.items[index].site
        if site not in online:
            raise AgendaError(f"{site} is offline; cannot give it the agenda slot")
        previous = self.current_site()
        self.paused_at = None
        self._enter(index, now)
        return AgendaStep(previous, site)

    def pause(self, now: float) -> None:
        if self.status != "running":
            raise AgendaError(f"cannot pause: the agenda is {self.status}")
        self.status = "paused"
        self.paused_at = now

    def resume(self, now: float) -> None:
        if self.status != "paused" or self.paused_at is None or self.slot_started_at is None:
            raise AgendaError(f"cannot resume: the agenda is {self.status}")
        self.slot_started_at += now - self.paused_at
        self.paused_at = None
        self.status = "running"

    def extend(self, seconds: float) -> None:
        if self.current() is None:
            raise AgendaError("nobody is speaking; nothing to extend")
        if not 0 < seconds <= 3600:
            raise AgendaError(f"an extension must be 1 s to 1 h, not {seconds} s")
        self.extra_s += seconds

    def stop(self) -> AgendaStep:
        previous = self.current_site()
        self.status = "done"
        self.paused_at = None
        return AgendaStep(previous, None, done=True)

    # --- internals ---------------------------------------------------------------------
    def _go(self, start: int, now: float, online: Collection[str], previous: str | None) -> AgendaStep:
        skipped: list[str] = []
        index = start
        while index < len(self.items) and self.items[index].site not in online:
            skipped.append(self.items[index].site)
            index += 1
        self.skipped.extend(skipped)
        self.paused_at = None
        if index >= len(self.items):
            self.status = "done"
            self.index = len(self.items)
            self.slot_started_at = None
            return AgendaStep(previous, None, tuple(skipped), done=True)
        self._enter(index, now)
        return AgendaStep(previous, self.items[index].site, tuple(skipped))

    def _enter(self, index: int, now: float) -> None:
        self.index = index
        self.status = "running"
        self.slot_started_at = now
        self.extra_s = 0.0

    # --- persistence -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "items": [{"site": i.site, "duration_s": i.duration_s} for i in self.items],
            "index": self.index,
            "status": self.status,
            "slot_started_at": self.slot_started_at,
            "extra_s": self.extra_s,
            "paused_at": self.paused_at,
            "skipped": list(self.skipped),
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Agenda:
        return cls(
            items=[AgendaItem(str(i["site"]), float(i["duration_s"])) for i in raw["items"]],
            index=int(raw.get("index", -1)),
            status=raw.get("status", "ready"),
            slot_started_at=raw.get("slot_started_at"),
            extra_s=float(raw.get("extra_s", 0.0)),
            paused_at=raw.get("paused_at"),
            skipped=list(raw.get("skipped", [])),
        )
