"""Briefing routes: series (create, change, skip, move, cancel, the Songkran preset), invitations,
the calendar of occurrences, an occurrence's readiness board, extending a running briefing."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from hub.briefings.keys import BRIEFINGS
from hub.briefings.model import SeriesError, parse_local_datetime, songkran_preset, songkran_year
from hub.keys import SETTINGS
from hub.web.auth import require_role
from hub.web.body import read_json
from hub.web.errors import json_error
from hub.web.openapi import ErrorBody, api, respond_as

# A series body is checked field by field by hub.briefings.model.parse_series (Thai/English
# messages naming the field), so the route reads it as a plain JSON object.
SeriesBody = dict[str, Any]


class SongkranBody(BaseModel):
    year: Annotated[StrictInt, Field(ge=2000, le=2200)] | None = None
    organizer_email: str | None = None
    organizer_name: str | None = None


class MoveBody(BaseModel):
    start: Any = None  # local date-time, parsed in the series' zone (parse_local_datetime)


class ExtendBody(BaseModel):
    minutes: Annotated[float, Field(gt=0, le=240, strict=True)]


class OccurrencesQuery(BaseModel):
    from_: str | None = Field(default=None, alias="from", description="First local date (YYYY-MM-DD); today by default.")
    to: str | None = Field(default=None, description="Last local date (YYYY-MM-DD); 31 days after from by default.")


class InvitationsQuery(BaseModel):
    series_id: int | None = Field(default=None, ge=0, description="Only this series' mail.")


# --- response models (what hub.briefings.jobs.Briefings returns) ------------------------------------


class OccurrenceOut(BaseModel):
    """One briefing of a series: UTC and local times (Thai date and time in Buddhist Era)."""

    model_config = ConfigDict(extra="allow")  # rooms may add their own (links, guests)

    id: int
    series_id: int
    title: str
    key_date: str
    starts_at: str
    ends_at: str
    starts_at_local: str
    date_th: str
    time_th: str
    when_th: str
    state: str
    districts: list[str]
    conference_id: int | None
    extended_min: float


class SeriesExceptions(BaseModel):
    skip: list[str]
    move: dict[str, str]


class SeriesOut(BaseModel):
    """A series as stored (its spec, in its own zone) with every occurrence."""

    model_config = ConfigDict(extra="allow")  # rooms may add their own fields (guests: the guest policy)

    id: int
    uid: str
    state: str
    sequence: int
    invited: bool
    passcode: str | None
    title: str
    organizer_name: str
    organizer_email: str
    districts: list[str]
    start_date: str
    end_date: str
    start_time: str
    duration_min: float
    recurrence: str
    weekdays: list[int]
    timezone: str
    layout: str
    agenda: list[dict[str, Any]]
    attendees: list[str]
    exceptions: SeriesExceptions
    occurrences: list[OccurrenceOut]


class SeriesSummaryOut(BaseModel):
    id: int
    title: str
    state: str
    sequence: int
    invited: bool
    start_date: str
    end_date: str
    start_time: str
    recurrence: str
    districts: list[str]


class InvitationsQueued(BaseModel):
    series_id: int
    queued: int
    districts_without_email: list[str]


class InvitationOut(BaseModel):
    """One invitation mail of the outbox (times local)."""

    id: int
    kind: str
    series_id: int | None
    site_code: str | None
    to: str
    subject: str
    method: str | None
    state: str
    attempts: int
    last_error: str | None
    created_at: str | None
    next_attempt_at: str | None
    sent_at: str | None
    sent_at_th: str


class ReadinessRow(BaseModel):
    model_config = ConfigDict(extra="allow")

    code: str
    name_th: str
    name_en: str
    contact_phone: str | None
    online: bool
    ready: bool | None
    reasons: list[str]
    checked_at: str | None
    reminded_at: str | None
    joined_at: str | None
    presence: str  # not_started | waiting | joined | late


class ReadinessOut(BaseModel):
    occurrence: OccurrenceOut
    districts: list[ReadinessRow]


def _int(request: web.Request, name: str) -> int:
    try:
        return int(request.match_info[name])
    except ValueError as exc:
        raise json_error(404, f"{name} ไม่ถูกต้อง / bad {name}", field=name) from exc


async def _guard(coro: Awaitable[dict[str, Any]], model: Any = SeriesOut, status: int = 200) -> web.Response:
    """The service's answer checked against its model; a SeriesError is a 400 (409: a booked district)."""
    try:
        return respond_as(model, await coro, status=status)
    except SeriesError as exc:
        code = 409 if exc.field == "districts" and "booked" in exc.message else 400
        return web.json_response(exc.to_json(), status=code)


@api("Create a briefing series (its occurrences follow from the recurrence)", role="operator",
     body=SeriesBody, response=SeriesOut, status=201, responses={409: ErrorBody}, tags=("briefings",))
async def post_series(request: web.Request) -> web.Response:
    who = await require_role(request, "operator")
    body = await read_json(request, SeriesBody)
    return await _guard(request.app[BRIEFINGS].create_series(body, who.actor), status=201)


@api("Every briefing series", role="viewer", response=list[SeriesSummaryOut], tags=("briefings",))
async def get_series_list(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    return respond_as(list[SeriesSummaryOut], await asyncio.to_thread(request.app[BRIEFINGS].list_series))


@api("One series with its occurrences", role="viewer", response=SeriesOut, tags=("briefings",))
async def get_series(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    return respond_as(SeriesOut, await asyncio.to_thread(request.app[BRIEFINGS].series_json, _int(request, "id")))


@api("Change a series (the fields given; invitations are updated when sent again)", role="operator",
     body=SeriesBody, response=SeriesOut, responses={409: ErrorBody}, tags=("briefings",))
async def patch_series(request: web.Request) -> web.Response:
    who = await require_role(request, "operator")
    body = await read_json(request, SeriesBody)
    return await _guard(request.app[BRIEFINGS].update_series(_int(request, "id"), body, who.actor))


@api("Cancel a series (cancellations are mailed)", role="operator", response=SeriesOut, tags=("briefings",))
async def delete_series(request: web.Request) -> web.Response:
    who = await require_role(request, "operator")
    return await _guard(request.app[BRIEFINGS].cancel_series(_int(request, "id"), who.actor))


@api("The Songkran road-safety week preset as a daily series", role="operator", body=SongkranBody,
     response=SeriesOut, status=201, responses={409: ErrorBody}, tags=("briefings",))
async def post_songkran(request: web.Request) -> web.Response:
    who = await require_role(request, "operator")
    body = await read_json(request, SongkranBody)
    briefings = request.app[BRIEFINGS]
    today = datetime.now(ZoneInfo(briefings.tz)).date()
    year = body.year if body.year is not None else songkran_year(today)
    districts = await asyncio.to_thread(briefings._districts)
    raw = songkran_preset(
        year=year,
        districts=[c for c, s in districts.items() if s.kind == "district"],
        # The province hall's own address organises by default (replies go to people, not the relay).
        organizer_email=str(
            body.organizer_email
            or next((s.contact_email for s in districts.values() if s.kind == "hub" and s.contact_email), "")
            or request.app[SETTINGS].mail_from
        ),
        organizer_name=str(body.organizer_name or "ศาลากลางจังหวัดอุดรธานี"),
        tz=briefings.tz,
    )
    return await _guard(briefings.create_series(raw, who.actor), status=201)


def _date_param(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise json_error(400, f"วันที่ไม่ถูกต้อง / not a date: {value!r}", field=field) from exc


@api("Skip one occurrence of a series", role="operator", response=SeriesOut, tags=("briefings",))
async def post_skip(request: web.Request) -> web.Response:
    who = await require_role(request, "operator")
    key = _date_param(request.match_info["date"], "date")
    return await _guard(request.app[BRIEFINGS].skip(_int(request, "id"), key, who.actor))


@api("Move one occurrence of a series to another local start", role="operator", body=MoveBody,
     response=SeriesOut, responses={409: ErrorBody}, tags=("briefings",))
async def post_move(request: web.Request) -> web.Response:
    who = await require_role(request, "operator")
    key = _date_param(request.match_info["date"], "date")
    body = await read_json(request, MoveBody)
    briefings = request.app[BRIEFINGS]
    try:
        new_start = parse_local_datetime(body.start, ZoneInfo(briefings.tz), "start")
    except SeriesError as exc:
        return web.json_response(exc.to_json(), status=400)
    return await _guard(briefings.move(_int(request, "id"), key, new_start, who.actor))


@api("Occurrences between two local dates (the calendar)", role="viewer", query=OccurrencesQuery,
     response=list[OccurrenceOut], tags=("briefings",))
async def get_occurrences(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    briefings = request.app[BRIEFINGS]
    zone = ZoneInfo(briefings.tz)
    today = datetime.now(zone).date()
    start = _date_param(request.query["from"], "from") if "from" in request.query else today
    end = _date_param(request.query["to"], "to") if "to" in request.query else start + timedelta(days=31)
    if end < start:
        return web.json_response({"error": "to อยู่ก่อน from / 'to' is before 'from'", "field": "to"}, status=400)
    lo = datetime.combine(start, datetime.min.time(), zone).astimezone(UTC)
    hi = datetime.combine(end + timedelta(days=1), datetime.min.time(), zone).astimezone(UTC)
    return respond_as(list[OccurrenceOut], await asyncio.to_thread(briefings.list_occurrences, lo, hi))


@api("Queue the series' invitations (.ics) to every district and attendee", role="operator",
     response=InvitationsQueued, status=202, tags=("briefings",))
async def post_invitations(request: web.Request) -> web.Response:
    who = await require_role(request, "operator")
    return await _guard(request.app[BRIEFINGS].send_invitations(_int(request, "id"), who.actor),
                        InvitationsQueued, status=202)


@api("Invitation mail and its delivery state", role="viewer", query=InvitationsQuery, response=list[InvitationOut],
     tags=("briefings",))
async def get_invitations(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    sid = request.query.get("series_id")
    series_id = int(sid) if sid and sid.isdigit() else None
    return respond_as(list[InvitationOut],
                      await asyncio.to_thread(request.app[BRIEFINGS].list_invitations, series_id))


@api("An occurrence's readiness board: per district online, self-test, reminders, joined", role="viewer",
     response=ReadinessOut, tags=("briefings",))
async def get_readiness(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    return respond_as(ReadinessOut, await asyncio.to_thread(request.app[BRIEFINGS].board, _int(request, "id")))


@api("Extend a scheduled or running briefing", role="operator", body=ExtendBody, response=ReadinessOut,
     tags=("briefings",))
async def post_extend(request: web.Request) -> web.Response:
    who = await require_role(request, "operator")
    body = await read_json(request, ExtendBody)
    return await _guard(request.app[BRIEFINGS].extend(_int(request, "id"), body.minutes, who.actor), ReadinessOut)


def setup_routes(app: web.Application) -> None:
    r = app.router
    r.add_post("/api/v1/series", post_series)
    r.add_get("/api/v1/series", get_series_list)
    r.add_post("/api/v1/series/preset/songkran", post_songkran)
    r.add_get("/api/v1/series/{id}", get_series)
    r.add_patch("/api/v1/series/{id}", patch_series)
    r.add_delete("/api/v1/series/{id}", delete_series)
    r.add_post("/api/v1/series/{id}/occurrences/{date}/skip", post_skip)
    r.add_post("/api/v1/series/{id}/occurrences/{date}/move", post_move)
    r.add_post("/api/v1/series/{id}/invitations", post_invitations)
    r.add_get("/api/v1/invitations", get_invitations)
    r.add_get("/api/v1/occurrences", get_occurrences)
    r.add_get("/api/v1/occurrences/{id}/readiness", get_readiness)
    r.add_post("/api/v1/occurrences/{id}/extend", post_extend)
