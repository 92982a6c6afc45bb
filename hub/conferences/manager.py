"""Live conferences: the control process's truth, persisted, audited, rendered by a media worker.

:class:`ConferenceManager` (``app[CONFERENCES]``) owns every live
:class:`hub.conferences.conference.Conference`. Each change — from the control room's
API, an agent's floor request, the agenda clock, the media worker's voice
levels — runs under the conference's lock, then is written to the
``conferences`` table (hub.conferences.store) with one audit event per
transition, published to the control room, and pushed to the media worker as
the new scene. So a restarted hub resumes the same layout, floor and agenda
position, and agents rejoin by themselves when they reconnect.

Signalling with the agents (join, offer/answer, send profiles, each site's floor
state) is hub.conferences.signalling; every floor request gets an answer there.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from hub import audit
from hub.attendance import store as attendance
from hub.attendance.model import Closed, Opened
from hub.conferences import signalling, store
from hub.conferences.agenda import Agenda, AgendaError, AgendaItem
from hub.conferences.conference import Conference, ConferenceError, ConferenceEvent
from hub.conferences.floor import Actor, Floor, FloorError, RequestStatus
from hub.conferences.layout import LAYOUTS, LayoutError, SendProfile
from hub.conferences.media_state import SiteMedia, backoff_s
from hub.conferences.store import ConferenceRecord, UnknownConference
from hub.control.registry import AgentOffline, AgentRegistry, CommandRefused
from hub.events import EventBus
from hub.media import channel
from hub.media.client import MediaWorker, MediaWorkerError
from hub.models import utcnow
from hub.settings import Settings
from site_agent import protocol as p

log = logging.getLogger("hub.conferences.manager")

TICK_S = 0.5
LEVELS_PUBLISH_S = 0.5
STATE_ERRORS = (ConferenceError, FloorError, AgendaError, LayoutError)


@dataclass
class LiveConference:
    conf: Conference
    names: dict[str, str]
    occurrence_id: int | None = None
    created_by: str = ""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    worker: MediaWorker | None = None
    presence: dict[str, dict[str, Any]] = field(default_factory=dict)
    profiles_sent: dict[str, SendProfile] = field(default_factory=dict)
    joins: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    last_levels: float = 0.0
    levels: dict[str, float] = field(default_factory=dict)
    in_program: set[str] = field(default_factory=set)
    media: dict[str, SiteMedia] = field(default_factory=dict)  # what each site actually gets
    started_mono: float = field(default_factory=time.monotonic)
    # set once the media worker is up (or failed to start): joins wait for it,
    # so the agents build their offers while the worker process starts
    media_ready: asyncio.Event = field(default_factory=asyncio.Event)


# --- join hooks (issue 16): other rooms gate a district's join and hear every join and leave ---------


@dataclass(frozen=True)
class SiteConnection:
    """A district's media came up (``joined``) or went (``left``), on the hub's clock."""

    event: str  # joined | left
    conference_id: int
    site: str
    at: datetime
    source_addr: str = ""
    client: str = ""  # "salaklang-agent <version>"
    reason: str = ""  # why it left (hub.attendance.model.Closed)
    quality: dict[str, Any] = field(default_factory=dict)  # the media-quality summary at leave


# A gate answers None (let the district in) or the refusal the agent is sent (the identity room:
# a confidential briefing without its second factor); listeners hear every join and leave.
JoinGate = Callable[[int, str], Awaitable[p.JoinRefused | None]]
ConnectionListener = Callable[[SiteConnection], Awaitable[None]]


def _iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, UTC).isoformat() if ts is not None else None


def parse_agenda(items: list[dict[str, Any]], participants: list[str], strict: bool = True) -> Agenda | None:
    """Agenda items from the API or a briefing series: ``{site|code, minutes|seconds|duration_s}``.

    ``strict=False`` (a scheduled start) skips speakers who are not in the
    conference instead of refusing: a briefing must open at T0 regardless.
    """
    parsed = []
    for raw in items:
        site = raw.get("site") or raw.get("code")
        if not site:
            continue  # a titled agenda point without a speaker
        if "duration_s" in raw:
            seconds = float(raw["duration_s"])
        elif "seconds" in raw:
            seconds = float(raw["seconds"])
        else:
            seconds = float(raw.get("minutes", 2)) * 60
        if site not in participants:
            if not strict:
                log.warning("agenda names %s, which is not in the conference: skipped", site)
                continue
            raise ConferenceError(f"agenda names {site}, which is not in the conference")
        parsed.append(AgendaItem(str(site), seconds))
    return Agenda(parsed) if parsed else None


class ConferenceManager:
    def __init__(self, settings: Settings, engine: sa.Engine, registry: AgentRegistry, events: EventBus,
                 clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.engine = engine
        self.registry = registry
        self.events = events
        self.clock = clock
        self.live: dict[int, LiveConference] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._ticker: asyncio.Task[None] | None = None
        self._viewer_ids = itertools.count(1)
        self._closing = False
        self._spare: MediaWorker | None = None  # a warm worker for the next conference
        # issue 14: the content room sends the content tile to every worker that starts (or restarts)
        self.media_listeners: list[Callable[[int], Awaitable[None]]] = []
        self.join_gates: list[JoinGate] = []  # issue 16: the identity room's second-factor check
        self.connection_listeners: list[ConnectionListener] = []  # issue 16: the evidence room's traffic log

    # --- lifetime --------------------------------------------------------------------------
    async def startup(self) -> None:
        """Resume every conference that was live when the hub stopped (or crashed)."""
        # Intervals a crash left open were cut by the hub; the sites open new ones as they rejoin.
        await asyncio.to_thread(self._close_all_attendance)
        rows = await asyncio.to_thread(store.load_live, self.engine)
        for row in rows:
            try:
                conf = Conference.from_dict(row.state)
            except ConferenceError as exc:
                log.error("conference %s cannot be resumed: %s", row.id, exc)
                continue
            for code in conf.participants:
                conf.set_online(code, self.registry.is_online(code))
            live = LiveConference(conf, self._names(conf.participants), row.occurrence_id, row.created_by,
                                  presence=dict(row.presence or {}))
            self.live[conf.id] = live
            await self._start_media(live)
            await audit.arecord(self.engine, actor="system", action="conference.resumed",
                                target=f"conference:{conf.id}",
                                detail={"layout": conf.layout, "holder": conf.holder(),
                                        "agenda_index": conf.agenda.index if conf.agenda else None})
            for code in conf.participants:
                if code in conf.online:
                    self._join_soon(live, code)
            log.info("resumed conference %s (%s)", conf.id, conf.title)
        self.registry.add_connect_listener(self._on_connect)
        self.registry.add_message_handler("floor", self._on_floor_message)
        self.registry.add_message_handler("clerk_request", self._on_clerk_request)
        self.registry.add_message_handler("media_health", self._on_media_health)
        self._ticker = asyncio.create_task(self._tick_loop())

    async def shutdown(self) -> None:
        """Stop media but leave conferences live in the database: a restart resumes them."""
        self._closing = True
        await asyncio.to_thread(self._close_all_attendance)  # the sites drop with the hub
        for live in self.live.values():
            for code in live.conf.participants:
                await self._tell(SiteConnection("left", live.conf.id, code, utcnow(), reason=Closed.HUB_RESTART.value))
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        for task in list(self._tasks):
            task.cancel()
        for live in self.live.values():
            for task in live.joins.values():
                task.cancel()
            if live.worker is not None:
                await live.worker.stop()
        self.live.clear()
        if self._spare is not None:
            await self._spare.stop()
            self._spare = None

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- database ------------------------------------------------------------------------------
    def _write(self, live: LiveConference, events: list[ConferenceEvent], ip: str) -> None:
        store.write(self.engine, live.conf, live.presence, events, ip, live.occurrence_id)

    # --- attendance intervals (hub.attendance): the record the monthly report reads ------------------
    def _close_all_attendance(self) -> None:
        with Session(self.engine) as s:
            attendance.close_all_open(s, utcnow())
            s.commit()

    async def _attendance(self, live: LiveConference, code: str, closed: Closed | None,
                          at: datetime | None = None) -> bool:
        """Open (``closed`` None) or close the site's interval; True when a row changed."""
        when = at or utcnow()

        def write() -> bool:
            with Session(self.engine) as s:
                if closed is None:
                    before = attendance.is_open(s, live.conf.id, code)
                    attendance.open_interval(s, live.conf.id, live.occurrence_id, code, when)
                    changed = not before
                else:
                    changed = attendance.close_interval(s, live.conf.id, code, when, closed)
                s.commit()
                return changed

        return await asyncio.to_thread(write)

    async def _left(self, live: LiveConference, code: str, reason: Closed, actor: str,
                    media_only: bool = False, at: float | None = None) -> None:
        """The site is out of the call: its interval closes and the leave is audited (once).

        ``media_only``: its media path was lost while it stays online; it is rejoining
        (its state stays ``reconnecting``), and the join that succeeds opens a new interval.
        """
        live.in_program.discard(code)
        if not media_only:
            self._media(live, code).set("out", self.clock(), reason.value)
        when = datetime.fromtimestamp(at, UTC) if at is not None else utcnow()
        live.presence.setdefault(code, {})["left_at"] = when.isoformat()
        await self._tell(SiteConnection("left", live.conf.id, code, when, reason=reason.value,
                                        quality=await self._quality(live, code)))
        if await self._attendance(live, code, reason, when):
            await audit.arecord(self.engine, actor=actor, action="conference.left",
                                target=f"conference:{live.conf.id}/{code}",
                                detail={"reason": reason.value, **({"media_only": True} if media_only else {})})

    async def attendance(self, conference_id: int) -> list[dict[str, Any]]:
        """Every join/leave interval of the conference, with its reasons (live or ended)."""
        rows = await asyncio.to_thread(attendance.intervals_for_conference, self.engine, conference_id)
        return [attendance.interval_json(r) for r in rows]

    def record(self, conference_id: int) -> ConferenceRecord | None:
        return store.record(self.engine, conference_id)

    # --- helpers -----------------------------------------------------------------------------------
    def _names(self, codes: list[str]) -> dict[str, str]:
        return {c: (self.registry.live[c].name_th if c in self.registry.live else c) for c in codes}

    def province(self) -> str | None:
        for code, live in sorted(self.registry.live.items()):
            if live.kind == "hub":
                return code
        return None

    def get(self, conference_id: int) -> LiveConference:
        live = self.live.get(conference_id)
        if live is None:
            raise UnknownConference(f"no live conference {conference_id}")
        return live

    def conference_of(self, site: str) -> LiveConference | None:
        for live in self.live.values():
            if site in live.conf.participants:
                return live
        return None

    # --- the one way state changes -----------------------------------------------------------------
    async def change(
        self, conference_id: int, fn: Callable[[Conference], list[ConferenceEvent]], ip: str = ""
    ) -> list[ConferenceEvent]:
        live = self.get(conference_id)
        async with live.lock:
            events = fn(live.conf)
            if events:
                await self._commit(live, events, ip)
        return events

    async def _commit(self, live: LiveConference, events: list[ConferenceEvent], ip: str = "") -> None:
        await asyncio.to_thread(self._write, live, events, ip)
        conf = live.conf
        self.events.publish("conference", {"id": conf.id, "events": [e.to_dict() for e in events],
                                           "conference": self.summary(live)})
        if conf.status == "ended":
            return
        await self._push_scene(live)
        self._push_profiles(live)
        if any(e.action.startswith("floor.") for e in events):
            self._push_floor_state(live)

    async def _push_scene(self, live: LiveConference) -> None:
        if live.worker is None or not live.worker.running:
            return
        try:
            await live.worker.request(signalling.scene(live.conf, live.names))
        except MediaWorkerError as exc:
            log.warning("conference %s: scene not sent: %s", live.conf.id, exc)

    def _push_profiles(self, live: LiveConference) -> None:
        """Tell each joined site what to send, when its tile size changed."""
        for code, profile in live.conf.profiles().items():
            if code not in live.in_program and code not in live.profiles_sent:
                continue  # not joined yet: the join carries the profile
            if live.profiles_sent.get(code) == profile or not self.registry.is_online(code):
                continue
            live.profiles_sent[code] = profile
            command = p.SendProfile(conference_id=live.conf.id, profile=signalling.profile_wire(profile))
            self._spawn(signalling.send_quiet(self.registry, code, command))

    def _push_floor_state(self, live: LiveConference) -> None:
        for code in live.conf.participants:
            if self.registry.is_online(code):
                self._spawn(signalling.send_quiet(self.registry, code, signalling.conference_state(live.conf, code)))

    # --- starting and ending ---------------------------------------------------------------------------
    async def start(
        self,
        site_codes: list[str],
        layout: str,
        *,
        title: str,
        occurrence_id: int | None = None,
        agenda: list[dict[str, Any]] | None = None,
        actor: str,
    ) -> int:
        if layout not in LAYOUTS:
            raise ConferenceError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
        unknown = [c for c in site_codes if c not in self.registry.live]
        if unknown:
            raise ConferenceError(f"unknown sites: {', '.join(unknown)}")
        codes = list(dict.fromkeys(site_codes))
        province = self.province()
        participants = [c for c in codes if c != province]
        # The province's own room takes part when it is listed or has an agent of its own.
        if province is not None and (province in codes or self.registry.live[province].enrolled):
            participants.insert(0, province)
        if not participants:
            raise ConferenceError("a conference needs at least one site")
        busy = [c for c in participants if self.conference_of(c) is not None]
        if busy:
            raise ConferenceError(f"already in a live conference: {', '.join(busy)}")
        record = ConferenceRecord(title=title[:200], occurrence_id=occurrence_id, layout=layout,
                                  created_by=actor[:100], state={}, presence={})
        conference_id = await asyncio.to_thread(store.insert, self.engine, record)
        conf = Conference(id=conference_id, title=title, province=province or participants[0],
                          participants=participants, layout=layout,
                          floor=Floor(max_holders=self.settings.conference_max_holders))
        for code in participants:
            conf.set_online(code, self.registry.is_online(code))
        events = [ConferenceEvent("conference.started", "", actor,
                                  {"sites": participants, "layout": layout, "title": title,
                                   "occurrence_id": occurrence_id})]
        if agenda:
            parsed = parse_agenda(agenda, participants, strict=False)
            if parsed is not None:
                events += conf.set_agenda(parsed, actor)
        live = LiveConference(conf, self._names(participants), occurrence_id, actor)
        self.live[conference_id] = live
        async with live.lock:
            await self._commit(live, events)
        # Joins go out now; each waits for the worker only when its offer is back.
        self._spawn(self._start_media(live))
        for code in participants:
            if code in conf.online:
                self._join_soon(live, code)
        return conference_id

    async def prepare(self) -> None:
        """Start a media worker ahead of time (e.g. at a briefing's reminder step).

        A worker is a new Python process importing PyAV and aiortc: ~0.5 s on an
        idle box, more under load. A conference started later adopts it.
        """
        if not self.settings.media_enabled or self._closing:
            return
        if self._spare is not None and self._spare.running:
            return
        s = self.settings
        spare = MediaWorker(width=s.media_width, height=s.media_height, fps=s.media_fps, kbps=s.media_kbps)
        try:
            await spare.start()
        except MediaWorkerError as exc:
            log.warning("could not prepare a media worker: %s", exc)
            return
        self._spare = spare

    async def end(self, conference_id: int, actor: str, ip: str = "") -> None:
        live = self.get(conference_id)
        quality = {code: await self._quality(live, code) for code in live.conf.participants}
        await self.change(conference_id, lambda c: c.end(actor), ip)
        for code in live.conf.participants:
            await self._tell(SiteConnection("left", conference_id, code, utcnow(), reason=Closed.ENDED.value,
                                            quality=quality[code]))
        self.live.pop(conference_id, None)
        for task in live.joins.values():
            task.cancel()
        for code in live.conf.participants:
            if self.registry.is_online(code):
                self._spawn(signalling.send_quiet(self.registry, code, p.LeaveConference(conference_id=conference_id)))
        if live.worker is not None:
            await live.worker.stop()

    async def extend(self, conference_id: int, minutes: float, actor: str, ip: str = "") -> None:
        await self.change(conference_id, lambda c: c.extend(minutes, self.clock(), actor), ip)

    # --- layout, floor, microphones, agenda (thin wrappers for the API and the scheduler) --------------
    async def set_layout(self, conference_id: int, layout: str, actor: str, ip: str = "") -> None:
        await self.change(conference_id, lambda c: c.set_layout(layout, actor), ip)

    async def floor(self, conference_id: int, request_id: int, verb: str, actor: str, ip: str = "") -> None:
        chair = Actor.of_chair(actor)
        ops: dict[str, Callable[[Conference], list[ConferenceEvent]]] = {
            "accept": lambda c: c.accept(request_id, chair),
            "grant": lambda c: self._grant_taking(c, request_id, chair),
            "deny": lambda c: c.deny(request_id, chair),
            "revoke": lambda c: c.revoke(request_id, chair),
        }
        if verb not in ops:
            raise ConferenceError(f"unknown floor action {verb!r}; use accept, grant, deny or revoke")
        await self.change(conference_id, ops[verb], ip)

    @staticmethod
    def _grant_taking(conf: Conference, request_id: int, chair: Actor) -> list[ConferenceEvent]:
        """Grant; when the floor is full the chair's grant takes it from the current holder."""
        req = conf.floor.get(request_id)
        if req.status in (RequestStatus.PENDING, RequestStatus.ACCEPTED):
            events: list[ConferenceEvent] = []
            while len(conf.holders()) >= conf.floor.max_holders:
                events += conf.take_floor(chair, conf.holders()[0])
            return events + conf.grant(request_id, chair)
        return conf.grant(request_id, chair)  # raises the state machine's clear error

    async def give_floor(self, conference_id: int, site: str, actor: str, ip: str = "") -> None:
        await self.change(conference_id, lambda c: c.give_floor(site, Actor.of_chair(actor)), ip)

    async def take_floor(self, conference_id: int, actor: str, ip: str = "") -> None:
        await self.change(conference_id, lambda c: c.take_floor(Actor.of_chair(actor)), ip)

    async def request_floor(self, conference_id: int, site: str, priority: int = 2) -> list[ConferenceEvent]:
        return await self.change(conference_id, lambda c: c.request_floor(site, Actor.of_site(site), priority))

    async def release_floor(self, conference_id: int, site: str) -> list[ConferenceEvent]:
        def release(c: Conference) -> list[ConferenceEvent]:
            req = c.floor.live_request_of(site)
            if req is None:
                raise FloorError(f"{site} has no floor request to release")
            return c.release(req.id, Actor.of_site(site), now=self.clock())

        return await self.change(conference_id, release)

    async def mute(self, conference_id: int, site: str, on: bool, actor: str, ip: str = "") -> None:
        await self.change(conference_id, lambda c: c.mute(site, actor) if on else c.unmute(site, actor), ip)

    async def mute_all(self, conference_id: int, on: bool, actor: str, ip: str = "") -> None:
        await self.change(conference_id, lambda c: c.mute_all(actor) if on else c.unmute_all(actor), ip)

    async def lecture(self, conference_id: int, on: bool, actor: str, ip: str = "") -> None:
        await self.change(conference_id, lambda c: c.set_lecture(on, actor), ip)

    async def voice_switching(self, conference_id: int, on: bool, actor: str, ip: str = "") -> None:
        await self.change(conference_id, lambda c: c.set_voice_switching(on, actor), ip)

    async def set_agenda(self, conference_id: int, items: list[dict[str, Any]], actor: str, ip: str = "") -> None:
        def set_(c: Conference) -> list[ConferenceEvent]:
            agenda = parse_agenda(items, c.participants)
            if agenda is None:
                raise ConferenceError("the agenda names no speaker")
            return c.set_agenda(agenda, actor)

        await self.change(conference_id, set_, ip)

    async def agenda(self, conference_id: int, verb: str, actor: str, ip: str = "",
                     seconds: float = 60.0, target: int | str | None = None) -> None:
        now = self.clock()
        ops: dict[str, Callable[[Conference], list[ConferenceEvent]]] = {
            "start": lambda c: c.agenda_start(now, actor),
            "pause": lambda c: c.agenda_pause(now, actor),
            "resume": lambda c: c.agenda_resume(now, actor),
            "next": lambda c: c.agenda_next(now, actor),
            "stop": lambda c: c.agenda_stop(now, actor),
            "extend": lambda c: c.agenda_extend(seconds, actor),
        }
        if verb == "jump":
            if target is None:
                raise ConferenceError("jump needs a site or a position")
            await self.change(conference_id, lambda c: c.agenda_jump(target, now, actor), ip)
            return
        if verb not in ops:
            raise ConferenceError(f"unknown agenda action {verb!r}")
        await self.change(conference_id, ops[verb], ip)

    # --- the clock -----------------------------------------------------------------------------------
    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            now = self.clock()
            for conference_id, live in list(self.live.items()):
                try:
                    if live.conf.ends_at is not None and now >= live.conf.ends_at:
                        await self.end(conference_id, "system")
                        continue
                    await self.change(conference_id, functools.partial(Conference.agenda_tick, now=now))
                    self._check_stalls(live, now)
                except Exception:
                    log.exception("conference %s: tick failed", conference_id)

    def _check_stalls(self, live: LiveConference, now: float) -> None:
        """A site without pictures rejoins once its control channel has proved itself (media_state)."""
        for code, m in live.media.items():
            if m.state != "no_picture":
                continue
            site = self.registry.live.get(code)
            m.control_seen(site.last_seen if site else None, now)
            if m.stall_needs_rejoin(now):
                self._rejoin(live, code, "no picture from the district")

    # --- agents ------------------------------------------------------------------------------------------
    async def _on_connect(self, code: str, connected: bool) -> None:
        live = self.conference_of(code)
        if live is None:
            return
        live.conf.set_online(code, connected)
        if connected:
            self._join_soon(live, code)
            return
        live.profiles_sent.pop(code, None)
        task = live.joins.pop(code, None)
        if task is not None:
            task.cancel()
        await self._left(live, code, Closed.LINK_LOST, "system")
        if live.worker is not None and live.worker.running:
            with contextlib.suppress(MediaWorkerError):
                await live.worker.request(channel.Leave(site=code))
        self.events.publish("conference", {"id": live.conf.id, "site": code, "online": False,
                                           "conference": self.summary(live)})

    async def _on_floor_message(self, code: str, msg: Any) -> None:
        """A district raised or lowered its hand. Always answered with its floor state."""
        assert isinstance(msg, p.FloorRequest)
        live = self.conference_of(code)
        if live is None:
            await signalling.send_quiet(self.registry, code, signalling.NO_BRIEFING)
            return
        if msg.conference_id is not None and msg.conference_id != live.conf.id:
            detail = f"conference {msg.conference_id} is not running; this district is in {live.conf.id}"
            await signalling.send_quiet(self.registry, code, signalling.conference_state(live.conf, code, detail))
            return
        await self._site_floor(live, code, msg.action, msg.priority)

    async def _on_clerk_request(self, code: str, msg: Any) -> None:
        assert isinstance(msg, p.ClerkRequest)
        live = self.conference_of(code)
        if live is None:
            await signalling.send_quiet(self.registry, code, signalling.NO_BRIEFING)
            return
        if msg.action == "join":
            self._join_soon(live, code)
        else:
            # The clerk left the call: media stops, the district stays on the list and can rejoin.
            task = live.joins.pop(code, None)
            if task is not None:
                task.cancel()
            await self._left(live, code, Closed.LEFT, f"agent:{code}")
            if live.worker is not None and live.worker.running:
                with contextlib.suppress(MediaWorkerError):
                    await live.worker.request(channel.Leave(site=code))
            await signalling.send_quiet(self.registry, code, p.LeaveConference(conference_id=live.conf.id))

    async def _on_media_health(self, code: str, msg: Any) -> None:
        """The agent's own watchdog: its peer connection failed, or no program reaches it."""
        assert isinstance(msg, p.MediaHealth)
        live = self.conference_of(code)
        if live is None or msg.conference_id != live.conf.id:
            return
        m = self._media(live, code)
        if m.state == "out" or (m.state == "reconnecting" and code in live.joins and not live.joins[code].done()):
            return  # not in the call (the clerk left), or a rejoin is under way already
        self._rejoin(live, code, f"the district reports media {msg.state}"
                                 + (f" ({msg.stalled_s:.1f} s without program)" if msg.state == "stalled" else ""))

    async def _site_floor(self, live: LiveConference, code: str, action: str, priority: int) -> None:
        try:
            if action == "request":
                events = await self.request_floor(live.conf.id, code, priority)
            else:
                events = await self.release_floor(live.conf.id, code)
        except STATE_ERRORS as exc:
            await audit.arecord(self.engine, actor=f"agent:{code}", action=f"conference.floor.{action}",
                                target=f"conference:{live.conf.id}/{code}", ok=False, detail={"error": str(exc)})
            view = signalling.conference_state(live.conf, code, str(exc))
            if action == "request" and live.conf.floor.live_request_of(code) is None:
                # Refused outright (the conference ended, the district is not a participant...).
                view = view.model_copy(update={"floor": p.FloorView(status="denied", detail=str(exc))})
            await signalling.send_quiet(self.registry, code, view)
            return
        if not any(e.action.startswith("floor.") for e in events):
            # Nothing moved (so nothing was pushed): the request is still answered.
            await signalling.send_quiet(self.registry, code, signalling.conference_state(live.conf, code))

    def _media(self, live: LiveConference, code: str) -> SiteMedia:
        return live.media.setdefault(code, SiteMedia())

    def _join_soon(self, live: LiveConference, code: str, reason: str = "", delay: float = 0.0) -> None:
        if not self.settings.media_enabled:
            return
        old = live.joins.get(code)
        if old is not None and not old.done():
            old.cancel()
        live.joins[code] = asyncio.create_task(self._join(live, code, reason, delay))

    def _rejoin(self, live: LiveConference, code: str, reason: str) -> None:
        """The media path failed or stalled: a fresh offer/answer (aiortc has no ICE restart)."""
        if self._closing or live.conf.status != "live" or not self.registry.is_online(code):
            return
        m = self._media(live, code)
        if m.state == "reconnecting" and code in live.joins and not live.joins[code].done():
            return
        live.in_program.discard(code)
        lost_at = m.stall_since if m.state == "no_picture" and m.stall_since else self.clock()
        was_in = m.state in ("in_program", "no_picture")
        if m.reconnecting(self.clock(), reason):
            if was_in:
                # Out of the briefing since its pictures stopped: the interval ends there.
                self._spawn(self._left(live, code, Closed.LINK_LOST, "system", media_only=True, at=lost_at))
            self._spawn(audit.arecord(self.engine, actor="system", action="conference.media_rejoin",
                                      target=f"conference:{live.conf.id}/{code}", detail={"reason": reason}))
            if m.flapping(self.clock()):
                self._spawn(self._flapping_alarm(live, code, m))
        self._publish_media(live, code)
        self._join_soon(live, code, reason, backoff_s(m.attempt - 1) if m.attempt > 1 else 0.0)

    async def _connect_watch(self, live: LiveConference, code: str, answers: int) -> None:
        """An answered offer must bring pictures soon: ICE checks that started during a cut back off
        for ~30 s (STUN retransmissions), so a fresh offer is faster than waiting for them."""
        timeout = self.settings.conference_media_connect_timeout_s
        await asyncio.sleep(timeout)
        m = live.media.get(code)
        if (m is None or m.answers != answers or m.state not in ("connecting", "reconnecting")
                or self.live.get(live.conf.id) is not live):
            return
        task = live.joins.get(code)
        if task is not None and not task.done():
            return
        if m.state == "connecting":
            m.set("no_picture", self.clock(), "no picture")
        self._rejoin(live, code, f"no picture within {timeout:.0f} s of the answer")

    async def _flapping_alarm(self, live: LiveConference, code: str, m: SiteMedia) -> None:
        site = self.registry.live.get(code)
        figures = {"reconnects": len(m.reconnects), "window_s": 300,
                   "control_rtt_ms": site.control_rtt_ms if site else None, "link": site.link if site else None}
        name = live.names.get(code, code)
        # kind media_flapping: hub.alarms stores it as an alarm (link figures, mail) off the bus.
        self.events.publish("alert", {
            "source": "media", "kind": "media_flapping", "conference_id": live.conf.id,
            "severity": "major", "site": code, "figures": figures,
            "message": f"{name} เชื่อมต่อภาพ/เสียงใหม่ {len(m.reconnects)} ครั้งใน 5 นาที / "
                       f"{code} reconnected its media {len(m.reconnects)} times in 5 minutes"})
        await audit.arecord(self.engine, actor="system", action="conference.media_flapping",
                            target=f"conference:{live.conf.id}/{code}", ok=False, detail=figures)

    def _publish_media(self, live: LiveConference, code: str) -> None:
        self.events.publish("conference.media", {"id": live.conf.id, "event": "site_media", "site": code,
                                                 "media": self._media_view(live, code)})

    def _media_view(self, live: LiveConference, code: str) -> dict[str, Any]:
        m = self._media(live, code)
        view = m.to_dict()
        view["since"] = _iso(m.since) if m.since else None
        return view

    async def _join(self, live: LiveConference, code: str, reason: str = "", delay: float = 0.0) -> None:
        """join → offer, worker answers, media_answer; retried with backoff while the district is online.

        A join that fails (the agent did not answer in ``conference_join_timeout_s``, the
        worker was restarting...) is tried again for as long as the conference runs and the
        district is online; a refusal by the agent is retried slowly.
        """
        conf = live.conf
        m = self._media(live, code)
        if m.state == "out":
            m.set("connecting", self.clock())
        attempt = 0
        if delay > 0:
            await asyncio.sleep(delay)

        async def worker() -> MediaWorker:
            await live.media_ready.wait()
            if live.worker is None or not live.worker.running:
                raise ConferenceError("media is not running for this conference")
            return live.worker

        while True:
            profile = conf.profiles().get(code)
            if profile is None or conf.status != "live" or not self.registry.is_online(code):
                return
            error = ""
            refused = False
            if await self._gate(live, code) is not None:
                return  # refused (the agent was told why); admit() joins it once the condition is met
            try:
                await signalling.negotiate(self.registry, code, conf, live.names.get(code, code), profile, worker,
                                           self.settings.conference_join_timeout_s)
                live.profiles_sent[code] = profile
            except asyncio.CancelledError:
                raise
            except (AgentOffline, TimeoutError) as exc:
                error = f"agent unreachable: {exc or type(exc).__name__}"
            except CommandRefused as exc:
                error, refused = exc.detail, True
            except (MediaWorkerError, ConferenceError) as exc:
                error = str(exc)
                refused = "refused" in error or "could not use" in error
            if not error:
                break
            attempt += 1
            entry = live.presence.setdefault(code, {})
            entry["error"] = error
            log.info("conference %s: %s did not join (attempt %d): %s", conf.id, code, attempt, error)
            await audit.arecord(self.engine, actor="system", action="conference.join",
                                target=f"conference:{conf.id}/{code}", ok=False,
                                detail={"error": error, "attempt": attempt})
            self.events.publish("conference", {"id": conf.id, "site": code, "error": error,
                                               "conference": self.summary(live)})
            if m.state == "reconnecting":
                m.attempt += 1
                self._publish_media(live, code)
            await asyncio.sleep(30.0 if refused else backoff_s(attempt))
        entry = live.presence.setdefault(code, {})
        entry.pop("error", None)
        entry.setdefault("joined_at", utcnow().isoformat())
        entry.pop("left_at", None)
        conn = self.registry.connections.get(code)
        await self._tell(SiteConnection("joined", conf.id, code, utcnow(), source_addr=conn.remote if conn else "",
                                        client=f"salaklang-agent {conn.version}" if conn else ""))
        if m.state == "out":
            m.set("connecting", self.clock())
        m.answers += 1
        self._spawn(self._connect_watch(live, code, m.answers))
        self._publish_media(live, code)
        if await self._attendance(live, code, None):
            await audit.arecord(self.engine, actor=f"agent:{code}", action="conference.join",
                                target=f"conference:{conf.id}/{code}",
                                detail={"profile": profile.to_dict(), **({"reason": reason} if reason else {})})
        async with live.lock:
            await asyncio.to_thread(self._write, live, [], "")
        self.events.publish("conference", {"id": conf.id, "site": code, "joined": True,
                                           "conference": self.summary(live)})

    # --- join hooks (issue 16) ---------------------------------------------------------------------------------
    async def _gate(self, live: LiveConference, code: str) -> p.JoinRefused | None:
        """Ask every gate; a refusal is audited, shown on the conference page and sent to the agent."""
        for gate in self.join_gates:
            refusal = await gate(live.conf.id, code)
            if refusal is None:
                continue
            error = f"{refusal.message_th} / {refusal.message_en}"
            live.presence.setdefault(code, {})["error"] = error
            await audit.arecord(self.engine, actor="system", action="conference.join",
                                target=f"conference:{live.conf.id}/{code}", ok=False,
                                detail={"error": error, "reason": refusal.reason})
            self.events.publish("conference", {"id": live.conf.id, "site": code, "error": error,
                                               "conference": self.summary(live)})
            await signalling.send_quiet(self.registry, code, refusal)
            return refusal
        return None

    def admit(self, conference_id: int, code: str) -> None:
        """A gate's condition is now met (the clerk gave the code): join the district now."""
        live = self.live.get(conference_id)
        if live is not None and code in live.conf.participants and self.registry.is_online(code):
            self._join_soon(live, code, "second factor given")

    async def _tell(self, conn: SiteConnection) -> None:
        live = self.live.get(conn.conference_id)
        log_as = live.presence.get(conn.site, {}).get("log_as") if live is not None else None
        if log_as:  # a browser guest is told under its identity key (issue 15/16)
            conn = replace(conn, site=str(log_as))
        for listener in self.connection_listeners:
            try:
                await listener(conn)
            except Exception:  # the traffic log must never stop a join or a leave
                log.exception("connection listener failed for %s", conn.site)

    async def _quality(self, live: LiveConference, code: str) -> dict[str, Any]:
        """The media-quality summary at leave: the worker's receive figures and the agent's link report."""
        out: dict[str, Any] = {}
        site = self.registry.live.get(code)
        if site is not None:
            if site.control_rtt_ms is not None:
                out["control_rtt_ms"] = round(site.control_rtt_ms, 1)
            for key in ("rtt_ms_median", "jitter_ms", "loss_pct"):
                if site.link and site.link.get(key) is not None:
                    out[key] = site.link[key]
        if live.worker is not None and live.worker.running:
            try:
                stats = await asyncio.wait_for(live.worker.request(channel.GetStats()), 2.0)
            except (MediaWorkerError, TimeoutError):
                return out
            figures = stats.sites.get(code)
            if figures is not None:
                out.update(frames_in=figures.frames_in, audio_in=figures.audio_in,
                           max_gap_s=round(figures.max_gap_s, 3), audio_missing=figures.audio_missing,
                           video_skips=figures.video_skips, nacked=dict(figures.nacked))
        return out

    # --- media worker ---------------------------------------------------------------------------------------
    async def _start_media(self, live: LiveConference) -> None:
        if not self.settings.media_enabled:
            return
        s = self.settings
        conference_id = live.conf.id

        async def on_event(event: channel.Event) -> None:
            await self._media_event(conference_id, event)

        async def on_exit(code: int | None) -> None:
            if self._closing or conference_id not in self.live:
                return
            await audit.arecord(self.engine, actor="system", action="conference.media_restart",
                                target=f"conference:{conference_id}", ok=False, detail={"exit_code": code})
            await asyncio.sleep(1.0)
            current = self.live.get(conference_id)
            if current is not None and not self._closing:
                current.in_program.clear()
                await self._start_media(current)
                for site in current.conf.participants:
                    if self._media(current, site).state != "out":
                        self._rejoin(current, site, "the media worker restarted")
                    elif self.registry.is_online(site):
                        self._join_soon(current, site)

        live.media_ready.clear()
        spare, self._spare = self._spare, None
        if spare is not None and spare.running:
            worker = spare
            worker.on_event, worker.on_exit = on_event, on_exit
        else:
            worker = MediaWorker(width=s.media_width, height=s.media_height, fps=s.media_fps,
                                 kbps=s.media_kbps, on_event=on_event, on_exit=on_exit)
            try:
                await worker.start()
            except asyncio.CancelledError:
                # The hub is stopping while the worker starts: stop the half-started process too,
                # or it outlives the hub and the event loop waits for it at shutdown.
                await asyncio.shield(worker.stop(timeout=2.0))
                raise
            except MediaWorkerError as exc:
                log.error("conference %s: media worker did not start: %s", conference_id, exc)
                self.events.publish("alert", {"source": "media", "severity": "critical",
                                              "message": f"สื่อภาพ/เสียงไม่ทำงาน / media worker failed: {exc}"})
                live.media_ready.set()  # joins fail now with a clear reason instead of waiting
                return
        if self._closing or self.live.get(conference_id) is not live:
            await worker.stop()  # the conference ended while its worker was starting
            live.media_ready.set()
            return
        live.worker = worker
        await self._push_scene(live)
        for listener in self.media_listeners:
            await listener(conference_id)
        live.media_ready.set()

    async def _media_event(self, conference_id: int, event: channel.Event) -> None:
        live = self.live.get(conference_id)
        if live is None:
            return
        if isinstance(event, channel.Levels):
            live.levels = dict(event.levels)
            loudest = event.loudest
            if live.conf.voice_switching and loudest != live.conf.active_speaker:
                with contextlib.suppress(*STATE_ERRORS):
                    await self.change(conference_id, lambda c: c.loudest(loudest))
            now = time.monotonic()
            if now - live.last_levels >= LEVELS_PUBLISH_S:
                live.last_levels = now
                self.events.publish("conference.levels", {"id": conference_id, "levels": live.levels,
                                                          "loudest": loudest})
        elif isinstance(event, channel.FirstVideo) or (isinstance(event, channel.SitePicture) and event.receiving):
            if event.site in live.conf.participants:
                live.in_program.add(event.site)
                if self._media(live, event.site).set("in_program", self.clock()):
                    self._publish_media(live, event.site)
            self.events.publish("conference.media", {"id": conference_id, **channel.event_dict(event)})
        elif isinstance(event, channel.SitePicture):
            if event.site in live.conf.participants:
                live.in_program.discard(event.site)
                m = self._media(live, event.site)
                if m.state in ("in_program", "connecting"):
                    m.stalled(self.clock(), event.age_s)
                    self._publish_media(live, event.site)
            self.events.publish("conference.media", {"id": conference_id, **channel.event_dict(event)})
        elif isinstance(event, channel.SiteError):
            await audit.arecord(self.engine, actor="system", action="conference.media_error",
                                target=f"conference:{conference_id}/{event.site}", ok=False,
                                detail={"code": event.code, "message": event.message})
            live.presence.setdefault(event.site, {})["error"] = event.message
            self.events.publish("conference.media", {"id": conference_id, **channel.event_dict(event)})
        elif isinstance(event, channel.SiteState):
            if event.state in ("failed", "closed") and event.site in live.conf.participants:
                live.in_program.discard(event.site)
                if self._media(live, event.site).state != "out":
                    self._rejoin(live, event.site, f"media connection {event.state} (ICE consent or DTLS)")
            self.events.publish("conference.media", {"id": conference_id, **channel.event_dict(event)})

    async def viewer(self, conference_id: int, sdp: str, kind: str) -> channel.SdpAnswer:
        """A control-room browser previews the program (receives only)."""
        live = self.get(conference_id)
        if live.worker is None or not live.worker.running:
            raise ConferenceError("media is not running for this conference")
        return await live.worker.request(channel.Offer(site=f"{channel.VIEWER_PREFIX}{next(self._viewer_ids)}", sdp=sdp, sdp_type=kind))

    async def media_stats(self, conference_id: int) -> channel.Stats | None:
        """The worker's figures, or None when no media runs for this conference."""
        live = self.get(conference_id)
        if live.worker is None or not live.worker.running:
            return None
        return await live.worker.request(channel.GetStats())

    # --- browser peers (issue 15): guests, and districts without their agent PC -----------------------------
    # hub.guests.bridge calls these. A browser is one more peer of the same MCU (the program as
    # H.264 + Opus, its camera and microphone decoded like an agent's); a guest is a participant
    # of kind "guest" (placed in the layout only while it holds the floor), a district keeps its
    # code and is marked "browser" while its browser is in.
    async def browser_join(self, conference_id: int, key: str, *, kind: str, name: str, organisation: str,
                           sdp: str, actor: str, source_addr: str = "", client: str = "",
                           log_as: str = "") -> tuple[channel.SdpAnswer, SendProfile]:
        live = self.get(conference_id)
        conf = live.conf
        async with live.lock:
            if kind == "guest":
                events = conf.add_site(key, actor, kind="guest")
                live.names[key] = name
            else:
                if key not in conf.participants:
                    raise ConferenceError(f"{key} is not in conference {conference_id}")
                if self.registry.is_online(key):
                    raise ConferenceError(f"{key} is in the briefing from its agent PC already")
                conf.set_kind(key, "browser")
                events = []
            conf.set_online(key, True)
            live.presence.setdefault(key, {}).update({"organisation": organisation, "kind": kind})
            if log_as:  # the guest's identity key: the traffic log's rows meet its identity record
                live.presence[key]["log_as"] = log_as
            # The worker answers while the state is committed: the commit's scene is a worker
            # round trip of its own, which the join used to wait for first (issue 15, join time).
            worker = live.worker if live.media_ready.is_set() and live.worker is not None and live.worker.running else None
            offer = (asyncio.ensure_future(worker.request(channel.Offer(site=key, sdp=sdp, sdp_type="offer")))
                     if worker is not None else None)
            try:
                await self._commit(live, events)
            except BaseException:
                if offer is not None:
                    offer.cancel()
                raise
        if offer is None:
            await asyncio.wait_for(live.media_ready.wait(), 60)
            if live.worker is None or not live.worker.running:
                raise ConferenceError("media is not running for this conference")
            offer = asyncio.ensure_future(live.worker.request(channel.Offer(site=key, sdp=sdp, sdp_type="offer")))
        answer = await offer
        m = self._media(live, key)
        if m.state == "out":
            m.set("connecting", self.clock())
        entry = live.presence.setdefault(key, {})
        entry.setdefault("joined_at", utcnow().isoformat())
        entry.pop("left_at", None)
        entry.pop("error", None)
        if kind != "guest" and await asyncio.to_thread(self._browser_interval, live, key):
            await audit.arecord(self.engine, actor=actor, action="conference.join",
                                target=f"conference:{conference_id}/{key}", detail={"browser": True})
        # The evidence traffic log's join row, as for an agent (the browser's leave goes through _left).
        await self._tell(SiteConnection("joined", conference_id, key, utcnow(), source_addr=source_addr,
                                        client=client))
        self.events.publish("conference", {"id": conference_id, "site": key, "joined": True,
                                           "conference": self.summary(live)})
        return answer, conf.profiles()[key]

    def _browser_interval(self, live: LiveConference, code: str) -> bool:
        with Session(self.engine) as s:
            before = attendance.is_open(s, live.conf.id, code)
            attendance.open_interval(s, live.conf.id, live.occurrence_id, code, utcnow(), Opened.BROWSER)
            s.commit()
            return not before

    async def browser_leave(self, conference_id: int, key: str, reason: Closed, actor: str) -> None:
        live = self.live.get(conference_id)
        if live is None:
            return
        if live.worker is not None and live.worker.running:
            with contextlib.suppress(MediaWorkerError):
                await live.worker.request(channel.Leave(site=key))
        conf = live.conf
        async with live.lock:
            if key not in conf.participants:
                return
            conf.set_online(key, False)
            events = conf.remove_site(key, actor) if conf.kinds.get(key) == "guest" else []
            if not events:
                conf.set_kind(key, "site")
            await self._commit(live, events)
        await self._left(live, key, reason, actor)
        self.events.publish("conference", {"id": conference_id, "site": key, "online": False,
                                           "conference": self.summary(live)})

    # --- views ---------------------------------------------------------------------------------------------
    def summary(self, live: LiveConference) -> dict[str, Any]:
        conf = live.conf
        now = self.clock()
        tiles = conf.tiles()
        roles = {t.site: t.role for t in tiles if t.site}
        profiles = conf.profiles()
        agenda = None
        if conf.agenda is not None:
            ag = conf.agenda
            agenda = {**ag.to_dict(), "current": ag.current_site(), "remaining_s": ag.remaining(now),
                      "running": ag.status == "running"}
        requests = [
            {"id": r.id, "site": r.site, "status": r.status.label.lower(), "status_value": int(r.status),
             "position": r.queue_position or None, "priority": r.priority}
            for r in sorted(conf.floor.live(), key=lambda r: (r.status is not RequestStatus.GRANTED,
                                                              r.queue_position or 999, r.id))
        ]
        heard = conf.audible()
        return {
            "id": conf.id, "title": conf.title, "status": conf.status, "layout": conf.layout,
            "occurrence_id": live.occurrence_id, "province": conf.province,
            "sites": list(conf.participants), "lecture": conf.lecture, "voice_switching": conf.voice_switching,
            "active_speaker": conf.active_speaker, "ends_at": _iso(conf.ends_at),
            "floor": {"holder": conf.holder(), "holders": conf.holders(), "requests": requests,
                      "max_holders": conf.floor.max_holders},
            "agenda": agenda,
            "participants": [
                {"site": code, "name_th": live.names.get(code, code), "online": code in conf.online,
                 "joined_at": live.presence.get(code, {}).get("joined_at"),
                 "error": live.presence.get(code, {}).get("error"),
                 "in_program": code in live.in_program, "media_state": self._media_view(live, code),
                 "mic_open": conf.mics.get(code, False),
                 "kind": conf.kinds.get(code, "site"),  # "guest" / "browser" (issue 15)
                 "organisation": live.presence.get(code, {}).get("organisation"),
                 "heard": code in heard, "tile": roles.get(code), "level_dbfs": live.levels.get(code),
                 "send_profile": profiles[code].to_dict() if code in profiles else None}
                for code in conf.participants
            ],
            "tiles": [t.to_dict() for t in tiles],
            "media": {"running": bool(live.worker and live.worker.running),
                      "pid": live.worker.pid if live.worker else None},
        }

    async def listing(self) -> list[dict[str, Any]]:
        out = [self.summary(live) for live in sorted(self.live.values(), key=lambda x: -x.conf.id)]
        for row in await asyncio.to_thread(store.records, self.engine):
            if row.id not in self.live:
                out.append({"id": row.id, "title": row.title, "status": row.status, "layout": row.layout,
                            "occurrence_id": row.occurrence_id, "sites": row.state.get("participants", []),
                            "started_at": row.started_at.isoformat(),
                            "ended_at": row.ended_at.isoformat() if row.ended_at else None})
        return out
