"""Floor control after BFCP (RFC 8855): who may speak, and who waits.

A pure state machine: no clock, no I/O. Callers pass the acting party and get
back the transitions that happened, which they audit and persist. States and
their numbers are the IANA BFCP ``RequestStatus`` values, so a chair's log and
a test read the same as a BFCP trace.

Rules (../shared/reference/floor-control.md):
- only Granted gives the floor; Denied, Cancelled, Released, Revoked are final;
- release before grant gives Cancelled, after grant Released;
- only the chair accepts, denies, grants or revokes;
- a queue position exists only in Accepted; the queue is ordered by priority
  (4 highest) then arrival;
- at most ``max_holders`` requests are Granted at once (1 for a briefing).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any


class RequestStatus(IntEnum):
    """IANA BFCP RequestStatus values."""

    PENDING = 1
    ACCEPTED = 2
    GRANTED = 3
    DENIED = 4
    CANCELLED = 5
    RELEASED = 6
    REVOKED = 7

    @property
    def final(self) -> bool:
        return self >= RequestStatus.DENIED

    @property
    def label(self) -> str:
        return self.name.capitalize()


LIVE = (RequestStatus.PENDING, RequestStatus.ACCEPTED, RequestStatus.GRANTED)
PRIORITY_LOWEST = 0
PRIORITY_DEFAULT = 2
PRIORITY_HIGHEST = 4


class FloorError(ValueError):
    """An illegal floor operation; the message says what and why."""


@dataclass(frozen=True)
class Actor:
    """Who asks for a transition: the chair (an operator, the agenda) or a site."""

    name: str
    chair: bool = False

    @classmethod
    def of_chair(cls, name: str = "chair") -> Actor:
        return cls(name=name, chair=True)

    @classmethod
    def of_site(cls, code: str) -> Actor:
        return cls(name=code, chair=False)


@dataclass
class FloorRequest:
    id: int
    site: str
    priority: int
    arrival: int  # monotonic arrival counter: ties in priority go to the earlier asker
    status: RequestStatus = RequestStatus.PENDING
    queue_position: int = 0  # non-zero only while Accepted

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "site": self.site,
            "priority": self.priority,
            "arrival": self.arrival,
            "status": int(self.status),
            "queue_position": self.queue_position,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> FloorRequest:
        return cls(
            id=int(raw["id"]),
            site=str(raw["site"]),
            priority=int(raw["priority"]),
            arrival=int(raw["arrival"]),
            status=RequestStatus(int(raw["status"])),
            queue_position=int(raw.get("queue_position", 0)),
        )


@dataclass(frozen=True)
class FloorEvent:
    """One transition of one request, for the audit log and the live UI."""

    request_id: int
    site: str
    old: RequestStatus | None  # None: the request was created
    new: RequestStatus
    actor: Actor
    queue_position: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "site": self.site,
            "old": self.old.label if self.old else None,
            "new": self.new.label,
            "new_value": int(self.new),
            "actor": self.actor.name,
            "by_chair": self.actor.chair,
            "queue_position": self.queue_position,
        }


@dataclass
class Floor:
    """All floor requests of one conference (one floor)."""

    max_holders: int = 1
    requests: dict[int, FloorRequest] = field(default_factory=dict)
    next_id: int = 1
    next_arrival: int = 1

    def __post_init__(self) -> None:
        if self.max_holders < 1:
            raise FloorError(f"max_holders must be at least 1, not {self.max_holders}")

    # --- queries ---------------------------------------------------------------
    def get(self, request_id: int) -> FloorRequest:
        try:
            return self.requests[request_id]
        except KeyError:
            raise FloorError(f"no floor request #{request_id}") from None

    def holders(self) -> list[str]:
        return [r.site for r in self._sorted() if r.status is RequestStatus.GRANTED]

    def live_request_of(self, site: str) -> FloorRequest | None:
        for r in self.requests.values():
            if r.site == site and r.status in LIVE:
                return r
        return None

    def queue(self) -> list[FloorRequest]:
        """Accepted requests in grant order: priority (highest first), then arrival."""
        accepted = [r for r in self.requests.values() if r.status is RequestStatus.ACCEPTED]
        return sorted(accepted, key=lambda r: (-r.priority, r.arrival))

    def pending(self) -> list[FloorRequest]:
        return sorted(
            (r for r in self.requests.values() if r.status is RequestStatus.PENDING),
            key=lambda r: (-r.priority, r.arrival),
        )

    def live(self) -> list[FloorRequest]:
        return [r for r in self._sorted() if r.status in LIVE]

    def last_request_of(self, site: str) -> FloorRequest | None:
        """The site's most recent request, live or final (a denied one still tells the clerk)."""
        mine = [r for r in self.requests.values() if r.site == site]
        return max(mine, key=lambda r: r.id) if mine else None

    def waiting_position(self, request_id: int) -> int | None:
        """1-based place among the requests waiting for a grant: the chair's queue
        (Accepted) first, then those not yet looked at (Pending). None unless waiting."""
        waiting = self.queue() + self.pending()
        for position, r in enumerate(waiting, start=1):
            if r.id == request_id:
                return position
        return None

    def _sorted(self) -> list[FloorRequest]:
        return sorted(self.requests.values(), key=lambda r: r.id)

    # --- transitions -----------------------------------------------------------
    def request(
        self, site: str, actor: Actor, priority: int = PRIORITY_DEFAULT
    ) -> tuple[FloorRequest, list[FloorEvent]]:
        """A site asks for the floor (or the chair asks on its behalf): Pending."""
        if not actor.chair and actor.name != site:
            raise FloorError(f"{actor.name} cannot ask for the floor on behalf of {site}")
        if not PRIORITY_LOWEST <= priority <= PRIORITY_HIGHEST:
            raise FloorError(
                f"priority must be {PRIORITY_LOWEST}..{PRIORITY_HIGHEST}, not {priority}"
            )
        existing = self.live_request_of(site)
        if existing is not None:
            raise FloorError(
                f"{site} already has floor request #{existing.id} ({existing.status.label})"
            )
        req = FloorRequest(id=self.next_id, site=site, priority=priority, arrival=self.next_arrival)
        self.next_id += 1
        self.next_arrival += 1
        self.requests[req.id] = req
        return req, [FloorEvent(req.id, site, None, RequestStatus.PENDING, actor)]

    def accept(self, request_id: int, actor: Actor) -> list[FloorEvent]:
        """The chair agrees; the request waits in the queue (Accepted)."""
        req = self.get(request_id)
        self._need_chair(actor, "accept")
        self._need(req, (RequestStatus.PENDING,), "accept")
        return self._move(req, RequestStatus.ACCEPTED, actor)

    def deny(self, request_id: int, actor: Actor) -> list[FloorEvent]:
        req = self.get(request_id)
        self._need_chair(actor, "deny")
        self._need(req, (RequestStatus.PENDING, RequestStatus.ACCEPTED), "deny")
        return self._move(req, RequestStatus.DENIED, actor)

    def grant(self, request_id: int, actor: Actor) -> list[FloorEvent]:
        req = self.get(request_id)
        self._need_chair(actor, "grant")
        self._need(req, (RequestStatus.PENDING, RequestStatus.ACCEPTED), "grant")
        holders = self.holders()
        if len(holders) >= self.max_holders:
            raise FloorError(
                f"cannot grant the floor to {req.site}: held by {', '.join(holders)} "
                f"(at most {self.max_holders} at once); revoke or wait for release first"
            )
        return self._move(req, RequestStatus.GRANTED, actor)

    def revoke(self, request_id: int, actor: Actor) -> list[FloorEvent]:
        req = self.get(request_id)
        self._need_chair(actor, "revoke")
        self._need(req, (RequestStatus.GRANTED,), "revoke")
        return self._move(req, RequestStatus.REVOKED, actor)

    def release(self, request_id: int, actor: Actor) -> list[FloorEvent]:
        """The requester gives up: Cancelled before the grant, Released after."""
        req = self.get(request_id)
        if actor.chair:
            # The chair takes the floor with revoke and refuses with deny; a
            # release is the requester's own act (BFCP FloorRelease).
            raise FloorError("the chair revokes or denies; only the requester releases")
        if actor.name != req.site:
            raise FloorError(
                f"{actor.name} cannot release floor request #{req.id} of {req.site}"
            )
        self._need(req, LIVE, "release")
        new = RequestStatus.RELEASED if req.status is RequestStatus.GRANTED else RequestStatus.CANCELLED
        return self._move(req, new, actor)

    def grant_next(self, actor: Actor) -> list[FloorEvent]:
        """Grant the head of the queue; nothing if the queue is empty."""
        queue = self.queue()
        if not queue:
            return []
        return self.grant(queue[0].id, actor)

    # --- helpers -----------------------------------------------------------------
    @staticmethod
    def _need_chair(actor: Actor, what: str) -> None:
        if not actor.chair:
            raise FloorError(f"only the chair may {what} a floor request, not {actor.name}")

    @staticmethod
    def _need(req: FloorRequest, allowed: tuple[RequestStatus, ...], what: str) -> None:
        if req.status not in allowed:
            names = "/".join(s.label for s in allowed)
            raise FloorError(
                f"cannot {what} floor request #{req.id} of {req.site}: it is "
                f"{req.status.label}, must be {names}"
            )

    def _move(self, req: FloorRequest, new: RequestStatus, actor: Actor) -> list[FloorEvent]:
        old = req.status
        req.status = new
        events = [FloorEvent(req.id, req.site, old, new, actor)]
        events.extend(self._renumber(actor, skip=req.id))
        if new is RequestStatus.ACCEPTED:
            events[0] = FloorEvent(req.id, req.site, old, new, actor, req.queue_position)
        return events

    def _renumber(self, actor: Actor, skip: int) -> list[FloorEvent]:
        """Keep queue positions 1..n in Accepted, 0 elsewhere; report moved ones."""
        moved: list[FloorEvent] = []
        positions = {r.id: i for i, r in enumerate(self.queue(), start=1)}
        for r in self.requests.values():
            pos = positions.get(r.id, 0)
            if r.queue_position != pos:
                r.queue_position = pos
                if r.id != skip and r.status is RequestStatus.ACCEPTED:
                    moved.append(FloorEvent(r.id, r.site, r.status, r.status, actor, pos))
        return moved

    # --- persistence ---------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "max_holders": self.max_holders,
            "next_id": self.next_id,
            "next_arrival": self.next_arrival,
            "requests": [r.to_dict() for r in self._sorted()],
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Floor:
        floor = cls(
            max_holders=int(raw.get("max_holders", 1)),
            next_id=int(raw.get("next_id", 1)),
            next_arrival=int(raw.get("next_arrival", 1)),
        )
        for item in raw.get("requests", []):
            req = FloorRequest.from_dict(item)
            floor.requests[req.id] = req
        return floor

    def forget_finished(self, keep: int = 200) -> None:
        """Drop the oldest final requests beyond ``keep`` (the audit log keeps history)."""
        done = [r for r in self._sorted() if r.status.final]
        for r in done[: max(0, len(done) - keep)]:
            del self.requests[r.id]
