"""Recording routes: start/stop a conference's recording, the list, downloads (Range), legal hold, delete.

    POST   /api/v1/conferences/{id}/recording/start     operator
    POST   /api/v1/conferences/{id}/recording/stop      operator
    GET    /api/v1/recordings[?conference_id=]          viewer
    GET    /api/v1/recordings/{id}                      viewer
    GET    /api/v1/recordings/{id}/{mp4|mp3}            viewer  (FileResponse: Range requests, so players seek)
    PUT    /api/v1/recordings/{id}/hold  {"hold": b}    admin   (legal hold: clean-up and delete refuse it)
    DELETE /api/v1/recordings/{id}                      admin
    GET|PUT /api/v1/series/{id}/recording {"record": b}  operator (the series' automatic recording, on by default)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from hub.recording.keys import RECORDINGS
from hub.recording.model import KINDS, RecordingError
from hub.web.auth import client_ip, require_role
from hub.web.body import read_json
from hub.web.errors import json_error
from hub.web.openapi import api, respond_as
from hub.web.params import path_id, query_id

T = TypeVar("T")


class HoldBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hold: StrictBool


class RecordBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    record: StrictBool


class _Out(BaseModel):
    # Exactly the keys the service's view builds: an extra or missing one is a 500 in the tests.
    model_config = ConfigDict(extra="forbid")


class RecordingFileOut(_Out):
    name: str
    sha256: str
    bytes: int
    url: str


class RecordingOut(_Out):
    """One recording part (the service's ``view``)."""

    id: int
    conference_id: int
    occurrence_id: int | None
    series_id: int | None
    title: str
    stem: str
    part: int
    state: str
    reason: str
    auto: bool
    started_by: str
    started_at: str | None
    ended_at: str | None
    duration_s: float | None
    files: dict[str, RecordingFileOut]
    mp3_pending: bool = Field(description="the hub is making the MP3 from the finished MP4 (its sha256 is empty until then)")
    legal_hold: bool
    hold_by: str
    hold_at: str | None
    deleted: bool
    deleted_at: str | None


class RecordingListOut(_Out):
    recordings: list[RecordingOut]


class SeriesRecordOut(_Out):
    series_id: int
    record: bool


def _refused(exc: RecordingError) -> web.HTTPException:
    return json_error(exc.status, exc.message, code=exc.code, error_th=exc.th, error_en=exc.en)


async def _call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    try:
        return await asyncio.to_thread(fn, *args, **kwargs)
    except RecordingError as exc:
        raise _refused(exc) from None


@api("Start recording a live conference (a new part)", role="operator", response=RecordingOut, status=201,
     tags=("recording",))
async def post_start(request: web.Request) -> web.Response:
    who = await require_role(request, "operator")
    try:
        data = await request.app[RECORDINGS].start(path_id(request), actor=who.actor, ip=client_ip(request))
    except RecordingError as exc:
        raise _refused(exc) from None
    return respond_as(RecordingOut, data, status=201)


@api("Stop a conference's recording", role="operator", response=RecordingOut, tags=("recording",))
async def post_stop(request: web.Request) -> web.Response:
    who = await require_role(request, "operator")
    try:
        data = await request.app[RECORDINGS].stop(path_id(request), actor=who.actor, ip=client_ip(request))
    except RecordingError as exc:
        raise _refused(exc) from None
    return respond_as(RecordingOut, data)


@api("Recordings, optionally of one conference (?conference_id=)", role="viewer", response=RecordingListOut,
     tags=("recording",))
async def get_list(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    rows = await _call(request.app[RECORDINGS].listing, query_id(request, "conference_id"))
    return respond_as(RecordingListOut, {"recordings": rows})


@api("One recording", role="viewer", response=RecordingOut, tags=("recording",))
async def get_one(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    return respond_as(RecordingOut, await _call(request.app[RECORDINGS].one, path_id(request)))


async def get_file(request: web.Request) -> web.StreamResponse:
    await require_role(request, "viewer")
    kind = request.match_info["kind"]
    if kind not in KINDS:
        raise json_error(404, "ไม่มีไฟล์ชนิดนี้ / no such file kind (mp4 or mp3)", field="kind")
    path, row = await _call(request.app[RECORDINGS].file_for, path_id(request), kind)
    name = f"{row.stem}.{kind}"
    # FileResponse answers Range requests (206, Accept-Ranges), so a browser's player can seek.
    return web.FileResponse(path, headers={
        "Content-Type": "video/mp4" if kind == "mp4" else "audio/mpeg",
        "Content-Disposition": f"inline; filename=\"recording-{row.id}.{kind}\"; filename*=UTF-8''{quote(name)}",
    })


@api("Set or lift a recording's legal hold (audited)", role="admin", body=HoldBody, response=RecordingOut,
     tags=("recording",))
async def put_hold(request: web.Request) -> web.Response:
    who = await require_role(request, "admin")
    body = await read_json(request, HoldBody)
    return respond_as(RecordingOut, await _call(request.app[RECORDINGS].set_hold, path_id(request), body.hold,
                                                actor=who.actor, ip=client_ip(request)))


@api("Delete a recording's files (refused under legal hold; audited)", role="admin", response=RecordingOut,
     tags=("recording",))
async def delete_one(request: web.Request) -> web.Response:
    who = await require_role(request, "admin")
    return respond_as(RecordingOut, await _call(request.app[RECORDINGS].delete, path_id(request),
                                                actor=who.actor, ip=client_ip(request)))


@api("Turn a series' automatic recording on or off", role="operator", body=RecordBody,
     response=SeriesRecordOut, tags=("recording",))
async def put_series_record(request: web.Request) -> web.Response:
    who = await require_role(request, "operator")
    body = await read_json(request, RecordBody)
    return respond_as(SeriesRecordOut, await _call(request.app[RECORDINGS].set_series_record, path_id(request),
                                                   body.record, actor=who.actor, ip=client_ip(request)))


@api("Whether a series records automatically", role="viewer", response=SeriesRecordOut, tags=("recording",))
async def get_series_record(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    return respond_as(SeriesRecordOut, await _call(request.app[RECORDINGS].series_record, path_id(request)))


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_post("/api/v1/conferences/{id}/recording/start", post_start)
    r.add_post("/api/v1/conferences/{id}/recording/stop", post_stop)
    r.add_get("/api/v1/recordings", get_list)
    r.add_get("/api/v1/recordings/{id}", get_one)
    r.add_get("/api/v1/recordings/{id}/{kind}", get_file)
    r.add_put("/api/v1/recordings/{id}/hold", put_hold)
    r.add_delete("/api/v1/recordings/{id}", delete_one)
    r.add_get("/api/v1/series/{id}/recording", get_series_record)
    r.add_put("/api/v1/series/{id}/recording", put_series_record)
