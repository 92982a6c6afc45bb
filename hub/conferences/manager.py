"""Live conferences: the control process's truth, persisted, audited, rendered by a media worker.

:class:`ConferenceManager` (``app[CONFERENCES]``) owns every live
:class:`hub.conferences.conference.Conference`. Each change — from the control room's
API, an agent's floor request, the agenda clock, the media worker's voice
levels — runs under the conference's lock, then is written to the
``conferences`` table (the whole state as JSON) with one audit event per
transition, published to the control room, and pushed to the media worker as
the new scene. So a restarted hub resumes the same layout, floor and agenda
position, and agents rejoin by themselves when they reconnect.

Signalling rides the agent's control WebSocket: the hub sends ``join``
(conference, send profile); the agent answers with its SDP offer; the media
worker answers it; the hub sends ``media_answer``. Send profiles follow the
tiles (``send_profile``); floor state goes to the agents as
``conference_state``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from aiohttp import web
from pydantic import BaseModel
from pydantic import Field as PField
from sqlmodel import Field, Session, SQLModel, col, select

from hub import audit
from hub.attendance import model as attendance_model
from hub.attendance import store as attendance
from hub.conferences.agenda import Agenda, AgendaError, AgendaItem
from hub.conferences.conference import Conference, ConferenceError, ConferenceEvent
from hub.conferences.floor import Actor, Floor, FloorError, RequestStatus
from hub.conferences.layout import LAYOUTS, LayoutError, SendProfile
from hub.control.registry import AgentOffline, AgentRegistry
from hub.events import EventBus
from hub.keys import CONFERENCES, ENGINE, EVENTS, REGISTRY, SETTINGS
from hub.media.client import MediaWorker, MediaWorkerError
from hub.models import AuditEvent, utcnow
from hub.settings import Settings
from hub.web.auth import client_ip, require_role
from site_agent import protocol as p

log = logging.getLogger("hub.conferences.manager")

TICK_S = 0.5
LEVELS_PUBLISH_S = 0.5
STATE_ERRORS = (ConferenceError, FloorError, AgendaError, LayoutError)


class ConferenceRecord(SQLModel, table=True):
    __tablename__ = "conferences"

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=200)
    occurrence_id: int | None = Field(default=None, index=True)
    status: str = Field(default="live", max_length=16, index=True)  # live | ended
    layout: str = Field(max_length=16)
    state: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    # site → {"joined_at": iso, "left_at": iso, "error": text}: attendance evidence
    presence: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    created_by: str = Field(default="", max_length=100)
    started_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    ended_at: datetime | None = None


class UnknownConference(LookupError):
    pass


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
    started_mono: float = field(default_factory=time.monotonic)
    # set once the media worker is up (or failed to start): joins wait for it,
    # so the agents build their offers while the worker process starts
    media_ready: asyncio.Event = field(default_factory=asyncio.Event)


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

    # --- lifetime --------------------------------------------------------------------------
    async def startup(self) -> None:
        """Resume every conference that was live when the hub stopped (or crashed)."""
        await asyncio.to_thread(self._close_attendance)  # intervals a crash left open (issue 13)
        rows = await asyncio.to_thread(self._load_live)
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
        self._ticker = asyncio.create_task(self._tick_loop())

    async def shutdown(self) -> None:
        """Stop media but leave conferences live in the database: a restart resumes them."""
        self._closing = True
        await asyncio.to_thread(self._close_attendance)  # the sites drop with the hub (issue 13)
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
    def _load_live(self) -> list[ConferenceRecord]:
        with Session(self.engine, expire_on_commit=False) as s:
            return list(s.exec(select(ConferenceRecord).where(ConferenceRecord.status == "live")).all())

    # --- attendance intervals (issue 13): the record the monthly report reads -------------------
    def _close_attendance(self) -> None:
        with Session(self.engine) as s:
            attendance.close_all_open(s, utcnow())
            s.commit()

    async def _attendance(self, live: LiveConference, code: str, closed: attendance_model.Closed | None) -> None:
        """Open (``closed`` None) or close the site's interval, in its own small transaction."""
        def write() -> None:
            with Session(self.engine) as s:
                if closed is None:
                    attendance.open_interval(s, live.conf.id, live.occurrence_id, code, utcnow())
                else:
                    attendance.close_interval(s, live.conf.id, code, utcnow(), closed)
                s.commit()

        await asyncio.to_thread(write)

    def _insert(self, record: ConferenceRecord) -> int:
        with Session(self.engine, expire_on_commit=False) as s:
            s.add(record)
            s.commit()
            s.refresh(record)
            assert record.id is not None
            return record.id

    def _write(self, live: LiveConference, events: list[ConferenceEvent], ip: str) -> None:
        """State and its audit events in one transaction: the log never disagrees with the state."""
        conf = live.conf
        with Session(self.engine, expire_on_commit=False) as s:
            row = s.get(ConferenceRecord, conf.id)
            if row is None:
                raise UnknownConference(f"conference {conf.id} is not in the database")
            row.state = conf.to_dict()
            row.presence = dict(live.presence)
            row.layout = conf.layout
            row.status = conf.status
            row.updated_at = utcnow()
            if conf.status == "ended" and row.ended_at is None:
                row.ended_at = utcnow()
            s.add(row)
            # Attendance record (issue 13): floor grants/releases, removals and the end, same transaction.
            attendance.apply_conference_events(s, conf.id, live.occurrence_id,
                                               [(e.action, e.target, e.actor) for e in events], utcnow())
            for e in events:
                s.add(AuditEvent(
                    actor=self._audit_actor(conf, e.actor)[:100],
                    action=(e.action if e.action.startswith("conference.") else f"conference.{e.action}")[:64],
                    target=(f"conference:{conf.id}" + (f"/{e.target}" if e.target else ""))[:200],
                    ok=True, ip=ip[:64], detail=e.detail,
                ))
            s.commit()

    @staticmethod
    def _audit_actor(conf: Conference, actor: str) -> str:
        if actor in conf.participants:
            return f"agent:{actor}"
        if actor in ("agenda", "media", "system"):
            return f"system:{actor}" if actor != "system" else "system"
        return actor

    def _records(self, limit: int = 20) -> list[ConferenceRecord]:
        with Session(self.engine, expire_on_commit=False) as s:
            q = select(ConferenceRecord).order_by(col(ConferenceRecord.id).desc()).limit(limit)
            return list(s.exec(q).all())

    def _record(self, conference_id: int) -> ConferenceRecord | None:
        with Session(self.engine, expire_on_commit=False) as s:
            return s.get(ConferenceRecord, conference_id)

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
            await live.worker.request("scene", state=live.conf.render_state(live.names))
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
            self._spawn(self._send_quiet(code, "send_profile", profile.to_dict()))

    def _push_floor_state(self, live: LiveConference) -> None:
        conf = live.conf
        for code in conf.participants:
            if not self.registry.is_online(code):
                continue
            req = conf.floor.live_request_of(code)
            args = {"conference_id": conf.id, "holder": conf.holder(),
                    "mic_open": conf.mics.get(code, False), "heard": code in conf.audible(),
                    "request": ({"id": req.id, "status": req.status.label, "status_value": int(req.status),
                                 "queue_position": req.queue_position} if req else None)}
            self._spawn(self._send_quiet(code, "conference_state", args))

    async def _send_quiet(self, code: str, name: str, args: dict[str, Any]) -> None:
        with contextlib.suppress(AgentOffline, TimeoutError, ConnectionError, RuntimeError):
            await self.registry.send_command(code, name, args, timeout=10)

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
        conference_id = await asyncio.to_thread(self._insert, record)
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
        await self.change(conference_id, lambda c: c.end(actor), ip)
        self.live.pop(conference_id, None)
        for task in live.joins.values():
            task.cancel()
        for code in live.conf.participants:
            if self.registry.is_online(code):
                self._spawn(self._send_quiet(code, "leave", {"conference_id": conference_id}))
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

    async def request_floor(self, conference_id: int, site: str, priority: int = 2) -> None:
        await self.change(conference_id, lambda c: c.request_floor(site, Actor.of_site(site), priority))

    async def release_floor(self, conference_id: int, site: str) -> None:
        def release(c: Conference) -> list[ConferenceEvent]:
            req = c.floor.live_request_of(site)
            if req is None:
                raise FloorError(f"{site} has no floor request to release")
            return c.release(req.id, Actor.of_site(site), now=self.clock())

        await self.change(conference_id, release)

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
                except Exception:
                    log.exception("conference %s: tick failed", conference_id)

    # --- agents ------------------------------------------------------------------------------------------
    async def _on_connect(self, code: str, connected: bool) -> None:
        live = self.conference_of(code)
        if live is None:
            return
        live.conf.set_online(code, connected)
        if connected:
            self._join_soon(live, code)
            return
        live.in_program.discard(code)
        live.profiles_sent.pop(code, None)
        task = live.joins.pop(code, None)
        if task is not None:
            task.cancel()
        live.presence.setdefault(code, {})["left_at"] = utcnow().isoformat()
        await self._attendance(live, code, attendance_model.Closed.LINK_LOST)
        if live.worker is not None and live.worker.running:
            with contextlib.suppress(MediaWorkerError):
                await live.worker.request("leave", site=code)
        self.events.publish("conference", {"id": live.conf.id, "site": code, "online": False,
                                           "conference": self.summary(live)})

    async def _on_floor_message(self, code: str, msg: Any) -> None:
        assert isinstance(msg, p.FloorRequest)
        live = self.conference_of(code)
        if live is None or (msg.conference_id is not None and msg.conference_id != live.conf.id):
            await self._send_quiet(code, "conference_state", {"error": "ไม่ได้อยู่ในการประชุม / not in a conference"})
            return
        await self._site_floor(live, code, msg.action, msg.priority)

    async def _on_clerk_request(self, code: str, msg: Any) -> None:
        live = self.conference_of(code)
        if live is None:
            return
        action = getattr(msg, "action", "")
        if action == "floor_request":
            await self._site_floor(live, code, "request", 2)
        elif action == "floor_release":
            await self._site_floor(live, code, "release", 2)
        elif action == "join":
            self._join_soon(live, code)
        elif action == "leave":
            # The clerk left the call: media stops, the district stays on the list and can rejoin.
            live.in_program.discard(code)
            live.presence.setdefault(code, {})["left_at"] = utcnow().isoformat()
            await self._attendance(live, code, attendance_model.Closed.LEFT)
            if live.worker is not None and live.worker.running:
                with contextlib.suppress(MediaWorkerError):
                    await live.worker.request("leave", site=code)
            await self._send_quiet(code, "leave", {"conference_id": live.conf.id})
            await audit.arecord(self.engine, actor=f"agent:{code}", action="conference.leave",
                                target=f"conference:{live.conf.id}/{code}")

    async def _site_floor(self, live: LiveConference, code: str, action: str, priority: int) -> None:
        try:
            if action == "request":
                await self.request_floor(live.conf.id, code, priority)
            else:
                await self.release_floor(live.conf.id, code)
        except STATE_ERRORS as exc:
            await audit.arecord(self.engine, actor=f"agent:{code}", action=f"conference.floor.{action}",
                                target=f"conference:{live.conf.id}/{code}", ok=False, detail={"error": str(exc)})
            await self._send_quiet(code, "conference_state", {"conference_id": live.conf.id, "error": str(exc)})

    def _join_soon(self, live: LiveConference, code: str) -> None:
        if not self.settings.media_enabled:
            return
        old = live.joins.get(code)
        if old is not None and not old.done():
            old.cancel()
        live.joins[code] = asyncio.create_task(self._join(live, code))

    async def _join(self, live: LiveConference, code: str) -> None:
        """Signalling over the control channel: join → offer, worker answers, media_answer."""
        conf = live.conf
        profile = conf.profiles().get(code)
        if profile is None:
            return
        error = ""
        try:
            ack = await self.registry.send_command(
                code, "join", {"conference_id": conf.id, "title": conf.title, "name_th": live.names.get(code, code),
                               "send_profile": profile.to_dict()},
                timeout=self.settings.conference_join_timeout_s)
            if not ack.ok:
                raise ConferenceError(f"the agent refused to join: {ack.detail}")
            offer = ack.result
            await asyncio.wait_for(live.media_ready.wait(), 60)
            worker = live.worker
            if worker is None or not worker.running:
                raise ConferenceError("media is not running for this conference")
            answer = await worker.request("offer", site=code, sdp=offer.get("sdp", ""),
                                          type=offer.get("type", "offer"))
            done = await self.registry.send_command(code, "media_answer", answer, timeout=10)
            if not done.ok:
                raise ConferenceError(f"the agent could not use the hub's answer: {done.detail}")
            live.profiles_sent[code] = profile
        except asyncio.CancelledError:
            raise
        except (AgentOffline, TimeoutError) as exc:
            error = f"agent unreachable: {exc or type(exc).__name__}"
        except (MediaWorkerError, ConferenceError) as exc:
            error = str(exc)
        entry = live.presence.setdefault(code, {})
        if error:
            entry["error"] = error
            log.info("conference %s: %s did not join: %s", conf.id, code, error)
            await audit.arecord(self.engine, actor="system", action="conference.join", target=f"conference:{conf.id}/{code}",
                                ok=False, detail={"error": error})
            self.events.publish("conference", {"id": conf.id, "site": code, "error": error,
                                               "conference": self.summary(live)})
            return
        entry.pop("error", None)
        entry.setdefault("joined_at", utcnow().isoformat())
        entry.pop("left_at", None)
        await self._attendance(live, code, None)
        await audit.arecord(self.engine, actor=f"agent:{code}", action="conference.join",
                            target=f"conference:{conf.id}/{code}", detail={"profile": profile.to_dict()})
        async with live.lock:
            await asyncio.to_thread(self._write, live, [], "")
        self.events.publish("conference", {"id": conf.id, "site": code, "joined": True,
                                           "conference": self.summary(live)})

    # --- media worker ---------------------------------------------------------------------------------------
    async def _start_media(self, live: LiveConference) -> None:
        if not self.settings.media_enabled:
            return
        s = self.settings
        conference_id = live.conf.id

        async def on_event(msg: dict[str, Any]) -> None:
            await self._media_event(conference_id, msg)

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
                    if self.registry.is_online(site):
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
        live.media_ready.set()

    async def _media_event(self, conference_id: int, msg: dict[str, Any]) -> None:
        live = self.live.get(conference_id)
        if live is None:
            return
        kind = msg.get("event")
        site = str(msg.get("site", ""))
        if kind == "levels":
            live.levels = dict(msg.get("levels") or {})
            loudest = msg.get("loudest")
            if live.conf.voice_switching and loudest != live.conf.active_speaker:
                with contextlib.suppress(*STATE_ERRORS):
                    await self.change(conference_id, lambda c: c.loudest(loudest))
            now = time.monotonic()
            if now - live.last_levels >= LEVELS_PUBLISH_S:
                live.last_levels = now
                self.events.publish("conference.levels", {"id": conference_id, "levels": live.levels,
                                                          "loudest": loudest})
        elif kind == "first_video":
            live.in_program.add(site)
            self.events.publish("conference.media", {"id": conference_id, **msg})
        elif kind == "site_error":
            await audit.arecord(self.engine, actor="system", action="conference.media_error",
                                target=f"conference:{conference_id}/{site}", ok=False,
                                detail={"code": msg.get("code"), "message": msg.get("message")})
            live.presence.setdefault(site, {})["error"] = str(msg.get("message", ""))
            self.events.publish("conference.media", {"id": conference_id, **msg})
        elif kind == "site_state":
            if msg.get("state") in ("failed", "closed"):
                live.in_program.discard(site)
            self.events.publish("conference.media", {"id": conference_id, **msg})

    async def viewer(self, conference_id: int, sdp: str, kind: str) -> dict[str, Any]:
        """A control-room browser previews the program (receives only)."""
        live = self.get(conference_id)
        if live.worker is None or not live.worker.running:
            raise ConferenceError("media is not running for this conference")
        return await live.worker.request("offer", site=f"viewer-{next(self._viewer_ids)}", sdp=sdp, type=kind)

    async def media_stats(self, conference_id: int) -> dict[str, Any]:
        live = self.get(conference_id)
        if live.worker is None or not live.worker.running:
            return {"running": False}
        return {"running": True, **await live.worker.request("stats")}

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
                 "in_program": code in live.in_program, "mic_open": conf.mics.get(code, False),
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
        for row in await asyncio.to_thread(self._records):
            if row.id not in self.live:
                out.append({"id": row.id, "title": row.title, "status": row.status, "layout": row.layout,
                            "occurrence_id": row.occurrence_id, "sites": row.state.get("participants", []),
                            "started_at": row.started_at.isoformat(),
                            "ended_at": row.ended_at.isoformat() if row.ended_at else None})
        return out


# --- HTTP API -----------------------------------------------------------------------------------------------


class StartBody(BaseModel):
    sites: list[str] = PField(min_length=1, max_length=100)
    layout: str = "4x5"
    title: str = PField(default="การประชุม / Briefing", max_length=200)
    agenda: list[dict[str, Any]] | None = None


def _json_error(status: int, message: str) -> web.HTTPException:
    from hub.control.http import json_error

    return json_error(status, message)


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        raw = await request.json()
    except ValueError as exc:
        raise _json_error(400, "body is not JSON") from exc
    if not isinstance(raw, dict):
        raise _json_error(400, "body must be a JSON object")
    return raw


def _conf_id(request: web.Request) -> int:
    try:
        return int(request.match_info["id"])
    except ValueError as exc:
        raise _json_error(400, "conference id must be a number") from exc


async def _run(request: web.Request, op: Callable[[ConferenceManager, int, str, str, dict[str, Any]], Any]) -> web.Response:
    principal = await require_role(request, "operator")
    mgr = request.app[CONFERENCES]
    conference_id = _conf_id(request)
    body = await _body(request)
    try:
        await op(mgr, conference_id, principal.actor, client_ip(request), body)
        return web.json_response(mgr.summary(mgr.get(conference_id)) if conference_id in mgr.live
                                 else {"id": conference_id, "status": "ended"})
    except UnknownConference as exc:
        raise _json_error(404, str(exc)) from exc
    except STATE_ERRORS as exc:
        raise _json_error(409, str(exc)) from exc
    except MediaWorkerError as exc:
        raise _json_error(409, str(exc)) from exc


def _flag(body: dict[str, Any], key: str = "on") -> bool:
    value = body.get(key, True)
    if not isinstance(value, bool):
        raise _json_error(400, f"{key} must be true or false")
    return value


async def list_conferences(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    return web.json_response(await request.app[CONFERENCES].listing())


async def get_conference(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    mgr = request.app[CONFERENCES]
    conference_id = _conf_id(request)
    if conference_id in mgr.live:
        return web.json_response(mgr.summary(mgr.live[conference_id]))
    row = await asyncio.to_thread(mgr._record, conference_id)
    if row is None:
        raise _json_error(404, f"no conference {conference_id}")
    return web.json_response({"id": row.id, "title": row.title, "status": row.status, "layout": row.layout,
                              "sites": row.state.get("participants", []), "presence": row.presence})


async def start_conference(request: web.Request) -> web.Response:
    principal = await require_role(request, "operator")
    from hub.control.http import read_json

    body: StartBody = await read_json(request, StartBody)
    mgr = request.app[CONFERENCES]
    try:
        conference_id = await mgr.start(body.sites, body.layout, title=body.title, agenda=body.agenda,
                                        actor=principal.actor)
    except STATE_ERRORS as exc:
        raise _json_error(400 if "unknown" in str(exc) else 409, str(exc)) from exc
    return web.json_response(mgr.summary(mgr.get(conference_id)), status=201)


async def media_stats(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    try:
        return web.json_response(await request.app[CONFERENCES].media_stats(_conf_id(request)))
    except UnknownConference as exc:
        raise _json_error(404, str(exc)) from exc


async def viewer(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    body = await _body(request)
    try:
        answer = await request.app[CONFERENCES].viewer(_conf_id(request), str(body.get("sdp", "")),
                                                       str(body.get("type", "offer")))
    except UnknownConference as exc:
        raise _json_error(404, str(exc)) from exc
    except (ConferenceError, MediaWorkerError) as exc:
        raise _json_error(400, str(exc)) from exc
    return web.json_response(answer)


def _route(op: Callable[[ConferenceManager, int, str, str, dict[str, Any]], Any]) -> Callable[[web.Request], Any]:
    async def handler(request: web.Request) -> web.Response:
        return await _run(request, op)

    return handler


async def floor_request_verb(request: web.Request) -> web.Response:
    verb = request.match_info["verb"]
    try:
        request_id = int(request.match_info["request"])
    except ValueError as exc:
        raise _json_error(400, "floor request id must be a number") from exc
    return await _run(request, lambda m, cid, actor, ip, body: m.floor(cid, request_id, verb, actor, ip))


async def site_mute(request: web.Request) -> web.Response:
    site = request.match_info["code"]
    on = request.match_info["verb"] == "mute"
    return await _run(request, lambda m, cid, actor, ip, body: m.mute(cid, site, on, actor, ip))


async def agenda_verb(request: web.Request) -> web.Response:
    verb = request.match_info["verb"]

    async def op(m: ConferenceManager, cid: int, actor: str, ip: str, body: dict[str, Any]) -> None:
        seconds = body.get("seconds", 60)
        if not isinstance(seconds, int | float):
            raise _json_error(400, "seconds must be a number")
        target = body.get("site", body.get("index"))
        await m.agenda(cid, verb, actor, ip, seconds=float(seconds), target=target)

    return await _run(request, op)


async def _give_floor(m: ConferenceManager, cid: int, actor: str, ip: str, body: dict[str, Any]) -> None:
    site = body.get("site")
    if not isinstance(site, str):
        raise _json_error(400, "site is required")
    await m.give_floor(cid, site, actor, ip)


async def _extend(m: ConferenceManager, cid: int, actor: str, ip: str, body: dict[str, Any]) -> None:
    minutes = body.get("minutes", 15)
    if not isinstance(minutes, int | float):
        raise _json_error(400, "minutes must be a number")
    await m.extend(cid, float(minutes), actor, ip)


async def _set_agenda(m: ConferenceManager, cid: int, actor: str, ip: str, body: dict[str, Any]) -> None:
    items = body.get("items")
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise _json_error(400, "items must be a list of {site, minutes}")
    await m.set_agenda(cid, items, actor, ip)


def setup(app: web.Application) -> None:
    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        mgr = ConferenceManager(app[SETTINGS], app[ENGINE], app[REGISTRY], app[EVENTS])
        app[CONFERENCES] = mgr
        await mgr.startup()
        yield
        await mgr.shutdown()

    app.cleanup_ctx.append(lifetime)
    base = "/api/v1/conferences"
    r = app.router
    r.add_get(base, list_conferences)
    r.add_post(base, start_conference)
    r.add_get(base + "/{id}", get_conference)
    r.add_get(base + "/{id}/media", media_stats)
    r.add_post(base + "/{id}/viewer", viewer)
    r.add_post(base + "/{id}/end", _route(lambda m, cid, actor, ip, body: m.end(cid, actor, ip)))
    r.add_post(base + "/{id}/extend", _route(_extend))
    r.add_post(base + "/{id}/layout",
               _route(lambda m, cid, actor, ip, body: m.set_layout(cid, str(body.get("layout", "")), actor, ip)))
    r.add_post(base + "/{id}/floor", _route(_give_floor))
    r.add_post(base + "/{id}/floor/take", _route(lambda m, cid, actor, ip, body: m.take_floor(cid, actor, ip)))
    r.add_post(base + "/{id}/floor/{request:\\d+}/{verb:accept|grant|deny|revoke}", floor_request_verb)
    r.add_post(base + "/{id}/sites/{code}/{verb:mute|unmute}", site_mute)
    r.add_post(base + "/{id}/mute-all", _route(lambda m, cid, actor, ip, body: m.mute_all(cid, True, actor, ip)))
    r.add_post(base + "/{id}/unmute-all", _route(lambda m, cid, actor, ip, body: m.mute_all(cid, False, actor, ip)))
    r.add_post(base + "/{id}/lecture", _route(lambda m, cid, actor, ip, body: m.lecture(cid, _flag(body), actor, ip)))
    r.add_post(base + "/{id}/voice-switching",
               _route(lambda m, cid, actor, ip, body: m.voice_switching(cid, _flag(body), actor, ip)))
    r.add_post(base + "/{id}/agenda", _route(_set_agenda))
    r.add_post(base + "/{id}/agenda/{verb:start|pause|resume|next|stop|extend|jump}", agenda_verb)
