"""The conference API under /api/v1/conferences: start, watch, and chair a live conference.

Each route reads its body into a pydantic model (hub.web.body.read_json: a 400
names the wrong field) and answers with the conference's summary
(ConferenceManager.summary). Chair actions are operator-only; watching is for viewers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from hub.conferences.conference import ConferenceError
from hub.conferences.keys import CONFERENCES
from hub.conferences.manager import STATE_ERRORS, ConferenceManager
from hub.conferences.store import UnknownConference
from hub.media.client import MediaWorkerError
from hub.web.auth import client_ip, require_role
from hub.web.body import read_json
from hub.web.errors import json_error
from hub.web.openapi import api, respond, respond_as

BASE = "/api/v1/conferences"
B = TypeVar("B", bound=BaseModel)

# --- request and response models -----------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AgendaEntry(BaseModel):
    """One agenda point: a speaker (``site`` or ``code``) and a length (minutes, seconds or duration_s)."""

    model_config = ConfigDict(extra="forbid")
    site: str | None = None
    code: str | None = None
    title: str | None = Field(default=None, max_length=200)
    minutes: float | None = Field(default=None, gt=0, le=600)
    seconds: float | None = Field(default=None, gt=0, le=36_000)
    duration_s: float | None = Field(default=None, gt=0, le=36_000)

    def as_item(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class StartBody(_Body):
    sites: list[str] = Field(min_length=1, max_length=100)
    layout: str = "4x5"
    title: str = Field(default="การประชุม / Briefing", max_length=200)
    agenda: list[AgendaEntry] | None = None


class NoBody(_Body):
    pass


class LayoutBody(_Body):
    layout: str = Field(min_length=1, max_length=16)


class FlagBody(_Body):
    on: bool = True


class SiteBody(_Body):
    site: str = Field(min_length=1, max_length=32)


class ExtendBody(_Body):
    minutes: float = Field(default=15, gt=0, le=600)


class AgendaBody(_Body):
    items: list[AgendaEntry] = Field(max_length=100)


class AgendaVerbBody(_Body):
    seconds: float = Field(default=60, gt=0, le=36_000)  # extend
    site: str | None = None  # jump
    index: int | None = Field(default=None, ge=0)  # jump


class ViewerBody(_Body):
    sdp: str = Field(min_length=1)
    type: Literal["offer"] = "offer"


class ViewerAnswer(BaseModel):
    sdp: str
    type: Literal["answer"] = "answer"


class MediaFigures(BaseModel):
    """The media worker's figures (hub.media.channel.Stats), or just running=false."""

    running: bool
    stats: dict[str, Any] | None = None


class FloorRequestOut(BaseModel):
    id: int
    site: str
    status: str  # pending | accepted | granted
    status_value: int
    position: int | None
    priority: int


class FloorOut(BaseModel):
    holder: str | None
    holders: list[str]
    requests: list[FloorRequestOut]
    max_holders: int


class MediaStateOut(BaseModel):
    """What a district actually gets: connecting / in program / reconnecting / no picture / out."""

    model_config = ConfigDict(extra="allow")

    state: str
    since: str | None
    attempt: int | None
    reason: str | None
    label_th: str
    label_en: str
    reconnects: int


class ParticipantOut(BaseModel):
    model_config = ConfigDict(extra="allow")  # rooms add their own (guests: kind, organisation)

    site: str
    name_th: str
    online: bool
    joined_at: str | None
    error: str | None
    in_program: bool
    media_state: MediaStateOut
    mic_open: bool
    heard: bool
    tile: str | None
    level_dbfs: float | None
    send_profile: dict[str, Any] | None


class IntervalOut(BaseModel):
    """One join→leave of a site (hub.attendance.store.interval_json), reasons in Thai and English."""

    site: str
    conference_id: int
    occurrence_id: int | None
    started_at: str
    ended_at: str | None
    opened_reason: str
    closed_reason: str | None
    opened_label_th: str
    opened_label_en: str
    closed_label_th: str | None
    closed_label_en: str | None


class ConferenceOut(BaseModel):
    """A conference: the live summary (ConferenceManager.summary), or what is kept of an ended one.

    A live conference carries every field; an ended one its id, title, status, layout, sites,
    presence and attendance; a chair action on a conference that just ended only id and status.
    """

    model_config = ConfigDict(extra="allow")

    id: int
    status: str  # live | ended
    title: str | None = None
    layout: str | None = None
    occurrence_id: int | None = None
    province: str | None = None
    sites: list[str] | None = None
    lecture: bool | None = None
    voice_switching: bool | None = None
    active_speaker: str | None = None
    ends_at: str | None = None
    floor: FloorOut | None = None
    agenda: dict[str, Any] | None = None
    participants: list[ParticipantOut] | None = None
    tiles: list[dict[str, Any]] | None = None
    media: dict[str, Any] | None = None
    started_at: str | None = None
    ended_at: str | None = None
    presence: dict[str, Any] | None = None
    attendance: list[IntervalOut] | None = None


class MediaStatsOut(BaseModel):
    """The media worker's figures, flat (hub.media.channel.Stats without its type), or running=false."""

    model_config = ConfigDict(extra="allow")

    running: bool


# --- routes ----------------------------------------------------------------------------------------


def _conf_id(request: web.Request) -> int:
    try:
        return int(request.match_info["id"])
    except ValueError as exc:
        raise json_error(400, "conference id must be a number", field="id") from exc


def _chair(model: type[B], op: Callable[[ConferenceManager, int, str, str, B], Awaitable[None]],
           summary: str = "A chair's action on a live conference") -> Callable[[web.Request], Awaitable[web.Response]]:
    """An operator's action on one live conference, answered with its new summary."""

    async def handler(request: web.Request) -> web.Response:
        principal = await require_role(request, "operator")
        mgr = request.app[CONFERENCES]
        conference_id = _conf_id(request)
        body = await read_json(request, model)
        try:
            await op(mgr, conference_id, principal.actor, client_ip(request), body)
        except UnknownConference as exc:
            raise json_error(404, str(exc)) from exc
        except (*STATE_ERRORS, MediaWorkerError) as exc:
            raise json_error(409, str(exc)) from exc
        return respond_as(ConferenceOut, mgr.summary(mgr.get(conference_id)) if conference_id in mgr.live
                          else {"id": conference_id, "status": "ended"})

    return api(summary, role="operator", body=model, response=ConferenceOut, tags=("conferences",))(handler)


@api("Live conferences, then ended ones", role="viewer", response=list[ConferenceOut], tags=("conferences",))
async def list_conferences(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    return respond_as(list[ConferenceOut], await request.app[CONFERENCES].listing())


@api("One conference: live state per district, floor, agenda, attendance intervals", role="viewer",
     response=ConferenceOut, tags=("conferences",))
async def get_conference(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    mgr = request.app[CONFERENCES]
    conference_id = _conf_id(request)
    if conference_id in mgr.live:
        summary = mgr.summary(mgr.live[conference_id])
        return respond_as(ConferenceOut, {**summary, "attendance": await mgr.attendance(conference_id)})
    row = await asyncio.to_thread(mgr.record, conference_id)
    if row is None:
        raise json_error(404, f"no conference {conference_id}")
    return respond_as(ConferenceOut, {"id": row.id, "title": row.title, "status": row.status, "layout": row.layout,
                              "sites": row.state.get("participants", []), "presence": row.presence,
                              "attendance": await mgr.attendance(conference_id)})


@api("Start a conference of these sites", role="operator", body=StartBody, response=ConferenceOut, status=201,
     tags=("conferences",))
async def start_conference(request: web.Request) -> web.Response:
    principal = await require_role(request, "operator")
    body = await read_json(request, StartBody)
    mgr = request.app[CONFERENCES]
    agenda = [item.as_item() for item in body.agenda] if body.agenda else None
    try:
        conference_id = await mgr.start(body.sites, body.layout, title=body.title, agenda=agenda,
                                        actor=principal.actor)
    except STATE_ERRORS as exc:
        raise json_error(400 if "unknown" in str(exc) else 409, str(exc)) from exc
    return respond_as(ConferenceOut, mgr.summary(mgr.get(conference_id)), status=201)


@api("The media worker's figures for a conference", role="viewer", response=MediaStatsOut, tags=("conferences",))
async def media_stats(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    try:
        stats = await request.app[CONFERENCES].media_stats(_conf_id(request))
    except UnknownConference as exc:
        raise json_error(404, str(exc)) from exc
    except MediaWorkerError as exc:
        raise json_error(409, str(exc)) from exc
    figures = MediaFigures(running=stats is not None, stats=stats.model_dump(exclude={"type"}) if stats else None)
    # Flat, as the control room reads it: {"running": true, "frames_out": ..., "sites": {...}}.
    return respond_as(MediaStatsOut, {"running": figures.running, **(figures.stats or {})})


@api("A receive-only program preview for the control room (WebRTC offer in, answer out)", role="viewer",
     body=ViewerBody, response=ViewerAnswer, tags=("conferences",))
async def viewer(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    body = await read_json(request, ViewerBody)
    try:
        answer = await request.app[CONFERENCES].viewer(_conf_id(request), body.sdp, body.type)
    except UnknownConference as exc:
        raise json_error(404, str(exc)) from exc
    except (ConferenceError, MediaWorkerError) as exc:
        raise json_error(400, str(exc)) from exc
    return respond(ViewerAnswer(sdp=answer.sdp))


async def _end(m: ConferenceManager, cid: int, actor: str, ip: str, body: NoBody) -> None:
    await m.end(cid, actor, ip)


async def _extend(m: ConferenceManager, cid: int, actor: str, ip: str, body: ExtendBody) -> None:
    await m.extend(cid, body.minutes, actor, ip)


async def _layout(m: ConferenceManager, cid: int, actor: str, ip: str, body: LayoutBody) -> None:
    await m.set_layout(cid, body.layout, actor, ip)


async def _give_floor(m: ConferenceManager, cid: int, actor: str, ip: str, body: SiteBody) -> None:
    await m.give_floor(cid, body.site, actor, ip)


async def _take_floor(m: ConferenceManager, cid: int, actor: str, ip: str, body: NoBody) -> None:
    await m.take_floor(cid, actor, ip)


async def _mute_all(m: ConferenceManager, cid: int, actor: str, ip: str, body: NoBody) -> None:
    await m.mute_all(cid, True, actor, ip)


async def _unmute_all(m: ConferenceManager, cid: int, actor: str, ip: str, body: NoBody) -> None:
    await m.mute_all(cid, False, actor, ip)


async def _lecture(m: ConferenceManager, cid: int, actor: str, ip: str, body: FlagBody) -> None:
    await m.lecture(cid, body.on, actor, ip)


async def _voice_switching(m: ConferenceManager, cid: int, actor: str, ip: str, body: FlagBody) -> None:
    await m.voice_switching(cid, body.on, actor, ip)


async def _set_agenda(m: ConferenceManager, cid: int, actor: str, ip: str, body: AgendaBody) -> None:
    await m.set_agenda(cid, [item.as_item() for item in body.items], actor, ip)


@api("Accept, grant, deny or revoke one district's floor request", role="operator", response=ConferenceOut,
     tags=("conferences",))
async def floor_request_verb(request: web.Request) -> web.Response:
    """accept / grant / deny / revoke one district's floor request."""
    verb = request.match_info["verb"]
    request_id = int(request.match_info["request"])  # the route allows digits only

    async def op(m: ConferenceManager, cid: int, actor: str, ip: str, body: NoBody) -> None:
        await m.floor(cid, request_id, verb, actor, ip)

    return await _chair(NoBody, op)(request)


@api("Mute or unmute one district's microphone", role="operator", response=ConferenceOut, tags=("conferences",))
async def site_mute(request: web.Request) -> web.Response:
    site = request.match_info["code"]
    on = request.match_info["verb"] == "mute"

    async def op(m: ConferenceManager, cid: int, actor: str, ip: str, body: NoBody) -> None:
        await m.mute(cid, site, on, actor, ip)

    return await _chair(NoBody, op)(request)


@api("Drive the agenda: start, pause, resume, next, stop, extend, jump", role="operator", body=AgendaVerbBody,
     response=ConferenceOut, tags=("conferences",))
async def agenda_verb(request: web.Request) -> web.Response:
    verb = request.match_info["verb"]

    async def op(m: ConferenceManager, cid: int, actor: str, ip: str, body: AgendaVerbBody) -> None:
        target = body.site if body.site is not None else body.index
        await m.agenda(cid, verb, actor, ip, seconds=body.seconds, target=target)

    return await _chair(AgendaVerbBody, op)(request)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(BASE, list_conferences)
    r.add_post(BASE, start_conference)
    r.add_get(BASE + "/{id}", get_conference)
    r.add_get(BASE + "/{id}/media", media_stats)
    r.add_post(BASE + "/{id}/viewer", viewer)
    r.add_post(BASE + "/{id}/end", _chair(NoBody, _end, "End the conference"))
    r.add_post(BASE + "/{id}/extend", _chair(ExtendBody, _extend, "Extend the conference"))
    r.add_post(BASE + "/{id}/layout", _chair(LayoutBody, _layout, "Change the layout everyone sees"))
    r.add_post(BASE + "/{id}/floor", _chair(SiteBody, _give_floor, "Give the floor to a district"))
    r.add_post(BASE + "/{id}/floor/take", _chair(NoBody, _take_floor, "Take the floor back"))
    r.add_post(BASE + "/{id}/floor/{request:\\d+}/{verb:accept|grant|deny|revoke}", floor_request_verb)
    r.add_post(BASE + "/{id}/sites/{code}/{verb:mute|unmute}", site_mute)
    r.add_post(BASE + "/{id}/mute-all", _chair(NoBody, _mute_all, "Mute every district"))
    r.add_post(BASE + "/{id}/unmute-all", _chair(NoBody, _unmute_all, "Unmute every district"))
    r.add_post(BASE + "/{id}/lecture", _chair(FlagBody, _lecture, "Lecture mode on or off"))
    r.add_post(BASE + "/{id}/voice-switching", _chair(FlagBody, _voice_switching, "Voice switching on or off"))
    r.add_post(BASE + "/{id}/agenda", _chair(AgendaBody, _set_agenda, "Set the speaking order"))
    r.add_post(BASE + "/{id}/agenda/{verb:start|pause|resume|next|stop|extend|jump}", agenda_verb)
