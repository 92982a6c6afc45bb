"""Briefing routes: series (create, change, skip, move, cancel, the Songkran preset), invitations,
the calendar of occurrences, an occurrence's readiness board, extending a running briefing."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import BaseModel, Field, StrictInt

from hub.briefings.keys import BRIEFINGS
from hub.briefings.model import SeriesError, parse_local_datetime, songkran_preset, songkran_year
from hub.keys import SETTINGS
from hub.web.auth import require_role
from hub.web.body import read_json
from hub.web.errors import json_error

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


def _int(request: web.Request, name: str) -> int:
    try:
        return int(request.match_info[name])
    except ValueError as exc:
        raise json_error(404, f"{name} ไม่ถูกต้อง / bad {name}", field=name) from exc


async def _guard(coro: Awaitable[dict[str, Any]]) -> web.Response:
    try:
        return web.json_response(await coro)
    except SeriesError as exc:
        status = 409 if exc.field == "districts" and "booked" in exc.message else 400
        return web.json_response(exc.to_json(), status=status)


async def post_series(request: web.Request) -> web.Response:
    who = await require_role(request, "operator")
    body = await read_json(request, SeriesBody)
    resp = await _guard(request.app[BRIEFINGS].create_series(body, who.actor))
    if resp.status == 200:
        resp.set_status(201)
    return resp


async def get_series_list(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    return web.json_response(await asyncio.to_thread(request.app[BRIEFINGS].list_series))


async def get_series(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    return web.json_response(await asyncio.to_thread(request.app[BRIEFINGS].series_json, _int(request, "id")))


async def patch_series(request: web.Request) -> web.Response:
    who = await require_role(request, "operator")
    body = await read_json(request, SeriesBody)
    return await _guard(request.app[BRIEFINGS].update_series(_int(request, "id"), body, who.actor))


async def delete_series(request: web.Request) -> web.Response:
    who = await require_role(request, "operator")
    return await _guard(request.app[BRIEFINGS].cancel_series(_int(request, "id"), who.actor))


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
    resp = await _guard(briefings.create_series(raw, who.actor))
    if resp.status == 200:
        resp.set_status(201)
    return resp


def _date_param(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise json_error(400, f"วันที่ไม่ถูกต้อง / not a date: {value!r}", field=field) from exc


async def post_skip(request: web.Request) -> web.Response:
    who = await require_role(request, "operator")
    key = _date_param(request.match_info["date"], "date")
    return await _guard(request.app[BRIEFINGS].skip(_int(request, "id"), key, who.actor))


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
    return web.json_response(await asyncio.to_thread(briefings.list_occurrences, lo, hi))


async def post_invitations(request: web.Request) -> web.Response:
    who = await require_role(request, "operator")
    resp = await _guard(request.app[BRIEFINGS].send_invitations(_int(request, "id"), who.actor))
    if resp.status == 200:
        resp.set_status(202)
    return resp


async def get_invitations(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    sid = request.query.get("series_id")
    series_id = int(sid) if sid and sid.isdigit() else None
    return web.json_response(await asyncio.to_thread(request.app[BRIEFINGS].list_invitations, series_id))


async def get_readiness(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    return web.json_response(await asyncio.to_thread(request.app[BRIEFINGS].board, _int(request, "id")))


async def post_extend(request: web.Request) -> web.Response:
    who = await require_role(request, "operator")
    body = await read_json(request, ExtendBody)
    return await _guard(request.app[BRIEFINGS].extend(_int(request, "id"), body.minutes, who.actor))


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
