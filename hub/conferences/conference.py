"""One live conference as pure state: who is in it, the layout, the floor, the microphones.

No I/O. Each operation returns the :class:`ConferenceEvent` list that the
caller audits, persists and publishes; the whole state round-trips through
JSON (:meth:`Conference.to_dict`) so a restarted hub resumes it exactly.

Microphones: a site is heard when its mic is open and, in lecture mode, only
if it is the province or a floor holder. Granting the floor opens the holder's
mic; losing the floor closes it (the province's own mic is never closed by
floor changes).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from hub.conferences.agenda import Agenda, AgendaStep
from hub.conferences.floor import Actor, Floor, FloorError, FloorEvent, RequestStatus
from hub.conferences.layout import LAYOUTS, LayoutError, SendProfile, Tile, arrange, send_profiles

ConferenceStatus = Literal["live", "ended"]
AGENDA_ACTOR = Actor.of_chair("agenda")


class ConferenceError(ValueError):
    pass


@dataclass(frozen=True)
class ConferenceEvent:
    """One change, in the words of the audit log: ``conference.layout``, ``floor.granted``…"""

    action: str
    target: str = ""
    actor: str = "system"
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "target": self.target, "actor": self.actor,
                "detail": dict(self.detail)}


def _floor_events(events: Iterable[FloorEvent]) -> list[ConferenceEvent]:
    return [
        ConferenceEvent(f"floor.{e.new.name.lower()}", e.site, e.actor.name, e.to_dict())
        for e in events
    ]


@dataclass
class Conference:
    id: int
    title: str
    province: str
    participants: list[str]
    layout: str = "1+N"
    floor: Floor = field(default_factory=Floor)
    mics: dict[str, bool] = field(default_factory=dict)
    lecture: bool = False
    voice_switching: bool = False
    active_speaker: str | None = None
    agenda: Agenda | None = None
    status: ConferenceStatus = "live"
    ends_at: float | None = None  # epoch seconds; None = until ended
    online: set[str] = field(default_factory=set)
    # Participant kinds other than an agent's site (issue 15): "guest" (a browser guest, in the
    # program only while it holds the floor) or "browser" (a district joined from a browser).
    kinds: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(set(self.participants)) != len(self.participants):
            raise ConferenceError("a site is listed twice")
        if not self.participants:
            raise ConferenceError("a conference needs at least one site")
        if self.layout not in LAYOUTS:
            raise ConferenceError(f"unknown layout {self.layout!r}")
        for site in self.participants:
            # The province (the chair's room) starts heard, districts start muted.
            self.mics.setdefault(site, site == self.province)

    # --- derived ------------------------------------------------------------------
    def holders(self) -> list[str]:
        return self.floor.holders()

    def holder(self) -> str | None:
        holders = self.holders()
        return holders[0] if holders else None

    def focus(self) -> str | None:
        """Who takes the large tile: the floor holder, else the loudest (voice switching)."""
        holder = self.holder()
        if holder is not None:
            return holder
        if self.voice_switching and self.active_speaker in self.participants:
            return self.active_speaker
        return None

    def audible(self) -> set[str]:
        heard = {s for s in self.participants if self.mics.get(s, False)}
        if self.lecture:
            heard &= {self.province, *self.holders()}
        return heard

    def tiles(self) -> list[Tile]:
        return arrange(self.layout, self.shown(), self.focus())

    def shown(self) -> list[str]:
        """Who the layout places: every site; a guest only while it holds the floor."""
        holders = set(self.holders())
        return [s for s in self.participants if self.kinds.get(s) != "guest" or s in holders]

    def profiles(self) -> dict[str, SendProfile]:
        return send_profiles(self.tiles(), self.participants)

    def render_state(self, names: dict[str, str] | None = None) -> dict[str, Any]:
        """What the media worker needs to draw and mix (the control process's truth)."""
        return {
            "conference_id": self.id,
            "layout": self.layout,
            "tiles": [t.to_dict() for t in self.tiles()],
            "audible": sorted(self.audible()),
            "participants": list(self.participants),
            "names": dict(names or {}),
        }

    # --- guards ----------------------------------------------------------------------
    def _live(self) -> None:
        if self.status != "live":
            raise ConferenceError(f"conference {self.id} has ended")

    def _member(self, site: str) -> None:
        if site not in self.participants:
            raise ConferenceError(f"{site} is not in conference {self.id}")

    # --- layout --------------------------------------------------------------------------
    def set_layout(self, layout: str, actor: str) -> list[ConferenceEvent]:
        self._live()
        if layout not in LAYOUTS:
            raise ConferenceError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
        if layout == self.layout:
            return []
        old, self.layout = self.layout, layout
        return [ConferenceEvent("conference.layout", "", actor, {"old": old, "new": layout})]

    # --- floor ----------------------------------------------------------------------------
    def request_floor(self, site: str, actor: Actor, priority: int = 2) -> list[ConferenceEvent]:
        self._live()
        self._member(site)
        _, events = self.floor.request(site, actor, priority)
        return _floor_events(events)

    def accept(self, request_id: int, actor: Actor) -> list[ConferenceEvent]:
        self._live()
        return _floor_events(self.floor.accept(request_id, actor))

    def deny(self, request_id: int, actor: Actor) -> list[ConferenceEvent]:
        self._live()
        return _floor_events(self.floor.deny(request_id, actor))

    def grant(self, request_id: int, actor: Actor) -> list[ConferenceEvent]:
        self._live()
        events = _floor_events(self.floor.grant(request_id, actor))
        site = self.floor.get(request_id).site
        return events + self._set_mic(site, True, actor.name, "floor")

    def revoke(self, request_id: int, actor: Actor) -> list[ConferenceEvent]:
        self._live()
        events = _floor_events(self.floor.revoke(request_id, actor))
        return events + self._after_floor_lost(self.floor.get(request_id).site, actor.name)

    def release(self, request_id: int, actor: Actor, now: float | None = None) -> list[ConferenceEvent]:
        """The requester gives up; in agenda mode its slot ends and the next speaker follows."""
        self._live()
        req = self.floor.get(request_id)
        was_holder = req.status is RequestStatus.GRANTED
        events = _floor_events(self.floor.release(request_id, actor))
        if was_holder:
            events += self._after_floor_lost(req.site, actor.name)
            if (
                now is not None
                and self.agenda is not None
                and self.agenda.current_site() == req.site
            ):
                step = self.agenda.next(now, self.online)
                events += self._apply_agenda(step, now)
        return events

    def give_floor(self, site: str, actor: Actor) -> list[ConferenceEvent]:
        """The chair hands the floor to a site, taking it from the current holder if needed."""
        self._live()
        self._member(site)
        if not actor.chair:
            raise FloorError(f"only the chair gives the floor, not {actor.name}")
        if site in self.holders():
            return []
        events: list[ConferenceEvent] = []
        while len(self.holders()) >= self.floor.max_holders:
            events += self.take_floor(actor, self.holders()[0])
        req = self.floor.live_request_of(site)
        if req is None:
            req, created = self.floor.request(site, actor)
            events += _floor_events(created)
        return events + self.grant(req.id, actor)

    def take_floor(self, actor: Actor, site: str | None = None) -> list[ConferenceEvent]:
        """The chair revokes the floor of ``site`` (default: the holder)."""
        target = site or self.holder()
        if target is None:
            return []
        req = self.floor.live_request_of(target)
        if req is None or req.status is not RequestStatus.GRANTED:
            raise FloorError(f"{target} does not hold the floor")
        return self.revoke(req.id, actor)

    def _after_floor_lost(self, site: str, actor: str) -> list[ConferenceEvent]:
        if site == self.province:
            return []
        return self._set_mic(site, False, actor, "floor")

    # --- microphones ---------------------------------------------------------------------
    def _set_mic(self, site: str, open_: bool, actor: str, why: str) -> list[ConferenceEvent]:
        if self.mics.get(site) == open_:
            return []
        self.mics[site] = open_
        return [ConferenceEvent("mic.opened" if open_ else "mic.closed", site, actor, {"why": why})]

    def mute(self, site: str, actor: str) -> list[ConferenceEvent]:
        self._live()
        self._member(site)
        return self._set_mic(site, False, actor, "chair")

    def unmute(self, site: str, actor: str) -> list[ConferenceEvent]:
        self._live()
        self._member(site)
        return self._set_mic(site, True, actor, "chair")

    def mute_all(self, actor: str) -> list[ConferenceEvent]:
        """Close every district mic except the floor holder's; the chair stays heard."""
        self._live()
        keep = {self.province, *self.holders()}
        events: list[ConferenceEvent] = []
        for site in self.participants:
            if site not in keep:
                events += self._set_mic(site, False, actor, "mute_all")
        return events

    def unmute_all(self, actor: str) -> list[ConferenceEvent]:
        self._live()
        events: list[ConferenceEvent] = []
        for site in self.participants:
            events += self._set_mic(site, True, actor, "unmute_all")
        return events

    def set_lecture(self, on: bool, actor: str) -> list[ConferenceEvent]:
        self._live()
        if self.lecture == on:
            return []
        self.lecture = on
        return [ConferenceEvent("conference.lecture", "", actor, {"on": on})]

    def set_voice_switching(self, on: bool, actor: str) -> list[ConferenceEvent]:
        self._live()
        if self.voice_switching == on:
            return []
        self.voice_switching = on
        return [ConferenceEvent("conference.voice_switching", "", actor, {"on": on})]

    def loudest(self, site: str | None) -> list[ConferenceEvent]:
        """The media worker reports the loudest audible site (voice switching input)."""
        if site is not None and site not in self.audible():
            return []
        if site == self.active_speaker:
            return []
        self.active_speaker = site
        if not self.voice_switching or self.holder() is not None:
            return []
        return [ConferenceEvent("conference.active_speaker", site or "", "media", {})]

    # --- participants & presence ------------------------------------------------------------
    def set_online(self, site: str, online: bool) -> None:
        if online:
            self.online.add(site)
        else:
            self.online.discard(site)

    def add_site(self, site: str, actor: str, kind: str = "site") -> list[ConferenceEvent]:
        self._live()
        if site in self.participants:
            return []
        self.participants.append(site)
        self.mics.setdefault(site, False)
        if kind != "site":
            self.kinds[site] = kind
        return [ConferenceEvent("conference.site_added", site, actor, {"kind": kind} if kind != "site" else {})]

    def set_kind(self, site: str, kind: str) -> None:
        """A listed district joins from a browser ("browser") or from its agent again ("site")."""
        self._member(site)
        if kind == "site":
            self.kinds.pop(site, None)
        else:
            self.kinds[site] = kind

    def remove_site(self, site: str, actor: str) -> list[ConferenceEvent]:
        self._live()
        self._member(site)
        events: list[ConferenceEvent] = []
        req = self.floor.live_request_of(site)
        if req is not None:
            chair = Actor.of_chair(actor)
            if req.status is RequestStatus.GRANTED:
                events += self.revoke(req.id, chair)
            else:
                events += _floor_events(self.floor.deny(req.id, chair))
        self.participants.remove(site)
        self.mics.pop(site, None)
        self.kinds.pop(site, None)
        self.online.discard(site)
        return [*events, ConferenceEvent("conference.site_removed", site, actor, {})]

    # --- agenda --------------------------------------------------------------------------------
    def set_agenda(self, agenda: Agenda, actor: str) -> list[ConferenceEvent]:
        self._live()
        for item in agenda.items:
            self._member(item.site)
        self.agenda = agenda
        return [ConferenceEvent("agenda.set", "", actor, {"items": agenda.to_dict()["items"]})]

    def _need_agenda(self) -> Agenda:
        if self.agenda is None:
            raise ConferenceError("no agenda is set for this conference")
        return self.agenda

    def agenda_start(self, now: float, actor: str) -> list[ConferenceEvent]:
        self._live()
        step = self._need_agenda().start(now, self.online)
        return [ConferenceEvent("agenda.started", "", actor, {}), *self._apply_agenda(step, now)]

    def agenda_tick(self, now: float) -> list[ConferenceEvent]:
        if self.status != "live" or self.agenda is None:
            return []
        step = self.agenda.tick(now, self.online)
        return self._apply_agenda(step, now) if step else []

    def agenda_next(self, now: float, actor: str) -> list[ConferenceEvent]:
        self._live()
        step = self._need_agenda().next(now, self.online)
        return [ConferenceEvent("agenda.next", "", actor, {}), *self._apply_agenda(step, now)]

    def agenda_jump(self, target: int | str, now: float, actor: str) -> list[ConferenceEvent]:
        self._live()
        step = self._need_agenda().jump(target, now, self.online)
        return [ConferenceEvent("agenda.jump", str(target), actor, {}),
                *self._apply_agenda(step, now)]

    def agenda_pause(self, now: float, actor: str) -> list[ConferenceEvent]:
        self._live()
        self._need_agenda().pause(now)
        return [ConferenceEvent("agenda.paused", "", actor, {})]

    def agenda_resume(self, now: float, actor: str) -> list[ConferenceEvent]:
        self._live()
        self._need_agenda().resume(now)
        return [ConferenceEvent("agenda.resumed", "", actor, {})]

    def agenda_extend(self, seconds: float, actor: str) -> list[ConferenceEvent]:
        self._live()
        agenda = self._need_agenda()
        agenda.extend(seconds)
        return [ConferenceEvent("agenda.extended", agenda.current_site() or "", actor,
                                {"seconds": seconds})]

    def agenda_stop(self, now: float, actor: str) -> list[ConferenceEvent]:
        self._live()
        step = self._need_agenda().stop()
        return [ConferenceEvent("agenda.stopped", "", actor, {}), *self._apply_agenda(step, now)]

    def _apply_agenda(self, step: AgendaStep, now: float) -> list[ConferenceEvent]:
        """Move floor (and so microphone and large tile) to the agenda's current speaker."""
        events: list[ConferenceEvent] = [
            ConferenceEvent("agenda.skipped", site, AGENDA_ACTOR.name, {"why": "offline"})
            for site in step.skipped
        ]
        if step.previous is not None and step.previous in self.holders():
            events += self.take_floor(AGENDA_ACTOR, step.previous)
        if step.current is not None:
            events += self.give_floor(step.current, AGENDA_ACTOR)
            events.append(ConferenceEvent("agenda.speaker", step.current, AGENDA_ACTOR.name,
                                          {"remaining_s": self.agenda.remaining(now)
                                           if self.agenda else None}))
        if step.done:
            events.append(ConferenceEvent("agenda.done", "", AGENDA_ACTOR.name, {}))
        return events

    # --- lifetime -----------------------------------------------------------------------------
    def extend(self, minutes: float, now: float, actor: str) -> list[ConferenceEvent]:
        self._live()
        if not 0 < minutes <= 8 * 60:
            raise ConferenceError(f"extend by 1 minute to 8 hours, not {minutes} minutes")
        base = max(self.ends_at or now, now)
        self.ends_at = base + minutes * 60
        return [ConferenceEvent("conference.extended", "", actor,
                                {"minutes": minutes, "ends_at": self.ends_at})]

    def end(self, actor: str) -> list[ConferenceEvent]:
        self._live()
        self.status = "ended"
        return [ConferenceEvent("conference.ended", "", actor, {})]

    # --- persistence ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "province": self.province,
            "participants": list(self.participants),
            "layout": self.layout,
            "floor": self.floor.to_dict(),
            "mics": dict(self.mics),
            "lecture": self.lecture,
            "voice_switching": self.voice_switching,
            "active_speaker": self.active_speaker,
            "agenda": self.agenda.to_dict() if self.agenda else None,
            "status": self.status,
            "ends_at": self.ends_at,
            "kinds": dict(self.kinds),
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Conference:
        try:
            return cls(
                id=int(raw["id"]),
                title=str(raw["title"]),
                province=str(raw["province"]),
                participants=list(raw["participants"]),
                layout=str(raw["layout"]),
                floor=Floor.from_dict(raw["floor"]),
                mics={str(k): bool(v) for k, v in raw["mics"].items()},
                lecture=bool(raw["lecture"]),
                voice_switching=bool(raw.get("voice_switching", False)),
                active_speaker=raw.get("active_speaker"),
                agenda=Agenda.from_dict(raw["agenda"]) if raw.get("agenda") else None,
                status=raw.get("status", "live"),
                ends_at=raw.get("ends_at"),
                kinds={str(k): str(v) for k, v in (raw.get("kinds") or {}).items()},
            )
        except (KeyError, TypeError, LayoutError) as exc:
            raise ConferenceError(f"stored conference state is unreadable: {exc}") from exc
