"""Content routes: upload, the library, page images, and the presentation controls.

Every refusal is a JSON 4xx with ``code``, ``th`` and ``en`` (and ``error`` =
"th / en", the shape every API error has), never a 5xx: a bad file must not
look like a broken hub while a briefing runs.

    POST /api/v1/conferences/{cid}/content              upload (multipart: file; ?series_id=)
    GET  /api/v1/conferences/{cid}/content              this conference's library (+ ?series_id=)
    GET  /api/v1/series/{sid}/content                   a series' library
    GET  /api/v1/content/{item_id}                      one item (status, pages, error)
    GET  /api/v1/content/{item_id}/pages/{page}         a rendered page (PNG at the tile's size)
    GET  /api/v1/conferences/{cid}/content/stage        what is shown now
    POST /api/v1/conferences/{cid}/content/stage/show   {item_id, page?, layout?}
    POST /api/v1/conferences/{cid}/content/stage/{next|prev|end}
    POST /api/v1/conferences/{cid}/content/stage/goto   {page}
    POST /api/v1/conferences/{cid}/content/stage/{play|pause}
    POST /api/v1/conferences/{cid}/content/stage/seek   {position_s}
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from aiohttp import BodyPartReader, web
from pydantic import BaseModel, ConfigDict, Field

from hub.conferences.keys import CONFERENCES
from hub.content import store
from hub.content.keys import CONTENT, PROGRAM
from hub.content.model import ContentError, Kind, kind_of, safe_name
from hub.content.program import series_of
from hub.content.service import CHUNK, ContentChange, ContentService, Upload
from hub.content.store import ContentItem
from hub.web.auth import client_ip, require_role
from hub.web.body import read_json
from hub.web.errors import json_error
from hub.web.openapi import api, respond, respond_as

# Multipart framing (boundaries, part headers) on top of the file itself.
MULTIPART_SLACK = 64 * 1024
SMALL_FIELD_MAX = 1024

STATUS: dict[str, int] = {
    "too_large": 413, "unsupported_type": 415, "magic_mismatch": 415, "not_found": 404,
    "not_ready": 409, "nothing_shown": 409, "not_a_clip": 409,
    "no_briefing": 409, "district_not_allowed": 403, "not_yours": 403,
    "not_sharing": 409,
}
VERBS = ("next", "prev", "goto", "play", "pause", "seek", "end")



# --- request and response models -------------------------------------------------------------


class ItemOut(BaseModel):
    id: int
    conference_id: int | None
    series_id: int | None
    name: str
    kind: str
    sha256: str
    size: int
    status: str
    error_code: str
    error: str
    pages: int
    page_width: int
    page_height: int
    duration_s: float
    uploaded_by: str
    uploaded_at: datetime
    converted_at: datetime | None
    page_urls: list[str]

    @classmethod
    def of(cls, item: ContentItem) -> ItemOut:
        assert item.id is not None
        return cls(
            id=item.id, conference_id=item.conference_id, series_id=item.series_id,
            name=item.original_name, kind=item.kind, sha256=item.sha256, size=item.size,
            status=item.status, error_code=item.error_code, error=item.error, pages=item.page_count,
            page_width=item.page_width, page_height=item.page_height, duration_s=item.duration_s,
            uploaded_by=item.uploaded_by, uploaded_at=item.uploaded_at, converted_at=item.converted_at,
            page_urls=[f"/api/v1/content/{item.id}/pages/{n}" for n in range(1, item.page_count + 1)],
        )


class LibraryOut(BaseModel):
    items: list[ItemOut]


class ShowBody(BaseModel):
    item_id: int = Field(gt=0)
    page: int = Field(1, ge=1)
    # The layout on screen before content: ended content returns to it.
    layout: str | None = Field(None, max_length=16)


class GotoBody(BaseModel):
    page: int = Field(ge=1)


class SeekBody(BaseModel):
    position_s: float = Field(ge=0, allow_inf_nan=False)


class EmptyBody(BaseModel):
    pass


class StageOut(BaseModel):
    conference_id: int
    version: int
    changed: bool = True
    layout: str | None = None  # the layout the program should take after this change
    layout_before: str | None = None
    showing: dict[str, Any] | None = None
    image_url: str | None = None


# --- errors and bodies -----------------------------------------------------------------------


def refuse(exc: ContentError) -> web.HTTPException:
    """The JSON answer for a refusal, in Thai and English, through the hub's one error helper."""
    status = STATUS.get(exc.code, 400 if exc.code in ("bad_name", "bad_request", "no_file", "page_out_of_range") else 422)
    return json_error(status, f"{exc.th} / {exc.en}", code=exc.code, th=exc.th, en=exc.en)


def _int(raw: str | None, name: str) -> int:
    try:
        value = int(raw or "")
    except ValueError:
        raise refuse(ContentError("bad_request", name)) from None
    if value < 1:
        raise refuse(ContentError("bad_request", name))
    return value


def _optional_int(raw: str | None, name: str) -> int | None:
    return None if raw in (None, "") else _int(raw, name)


def _service(request: web.Request) -> ContentService:
    return request.app[CONTENT]


# --- upload and library ----------------------------------------------------------------------


async def _chunks(part: BodyPartReader) -> AsyncIterator[bytes]:
    while chunk := await part.read_chunk(CHUNK):
        yield chunk


async def receive_file(request: web.Request, service: ContentService,
                       series_id: int | None = None) -> tuple[Upload, str, Kind, int | None]:
    """The multipart ``file`` part streamed into an :class:`Upload` (raises :class:`ContentError`).

    Also used by the districts' route (hub.content.district): the same limits and checks.
    """
    limit = service.settings.content_max_upload_bytes
    # A declared size over the limit is refused before a byte of the body is read.
    if request.content_length is not None and request.content_length > limit + MULTIPART_SLACK:
        raise ContentError("too_large", f"{request.content_length} > {limit} bytes")
    if not request.content_type.startswith("multipart/"):
        raise ContentError("no_file")
    reader = await request.multipart()
    while True:
        part = await reader.next()
        if part is None:
            raise ContentError("no_file")
        if not isinstance(part, BodyPartReader):
            continue  # a nested multipart is not a file
        if part.name == "series_id":  # a form may carry it instead of the query
            series_id = _optional_int((await part.read(decode=True))[:SMALL_FIELD_MAX].decode(), "series_id")
            continue
        if part.name == "file":
            break
        await part.release()
    # Browsers send the name as UTF-8; aiohttp and some other clients percent-encode it.
    # Decoded before the check, so "..%2F" cannot slip a separator past it.
    try:
        name = unquote(part.filename or "", errors="strict")
    except UnicodeDecodeError:
        raise ContentError("bad_name") from None
    name = safe_name(name)
    kind = kind_of(name)  # refused before reading: an .exe costs no disk
    sink = service.start_upload()
    try:
        await sink.receive(_chunks(part))
    except BaseException:
        sink.discard()
        raise
    return sink, name, kind, series_id


@api("Upload a document, picture or video to the briefing's library (multipart part `file`; converted after)",
     role="operator", response=ItemOut, status=202, tags=("content",))
async def upload(request: web.Request) -> web.Response:
    principal = await require_role(request, "operator")
    service = _service(request)
    conference_id = _int(request.match_info["conference_id"], "conference_id")
    series_id = _optional_int(request.query.get("series_id"), "series_id")
    try:
        sink, name, kind, series_id = await receive_file(request, service, series_id)
        if series_id is None:  # a scheduled briefing's upload goes to its series' library
            series_id = await asyncio.to_thread(series_of, request.app[CONFERENCES], conference_id)
        item = await service.ingest(sink, name, kind, conference_id=conference_id, series_id=series_id,
                                    actor=principal.actor, ip=client_ip(request))
    except ContentError as exc:
        raise refuse(exc) from exc
    return respond(ItemOut.of(item), status=202)


@api("The library of a briefing or of a series", role="viewer", response=LibraryOut, tags=("content",))
async def library(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    service = _service(request)
    conference_id: int | None
    series_id: int | None
    if "series_id" in request.match_info:
        conference_id, series_id = None, _int(request.match_info["series_id"], "series_id")
    else:
        conference_id = _int(request.match_info["conference_id"], "conference_id")
        series_id = _optional_int(request.query.get("series_id"), "series_id")
    items = await asyncio.to_thread(store.library, service.engine, conference_id=conference_id,
                                    series_id=series_id)
    return respond(LibraryOut(items=[ItemOut.of(i) for i in items]))


async def _item(service: ContentService, raw: str) -> ContentItem:
    item = await asyncio.to_thread(store.get_item, service.engine, _int(raw, "item_id"))
    if item is None:
        raise refuse(ContentError("not_found"))
    return item


@api("One library item", role="viewer", response=ItemOut, tags=("content",))
async def get_item(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    item = await _item(_service(request), request.match_info["item_id"])
    return respond(ItemOut.of(item))


@api("One converted page as a PNG picture", role="viewer", response=bytes, file_media_type="image/png",
     tags=("content",))
async def page_image(request: web.Request) -> web.StreamResponse:
    await require_role(request, "viewer")
    service = _service(request)
    item = await _item(service, request.match_info["item_id"])
    try:
        path = service.page_path(item, _int(request.match_info["page"], "page"))
    except ContentError as exc:
        raise refuse(exc) from exc
    # Pages are named by the file's hash and size: the same URL never shows another picture.
    return web.FileResponse(path, headers={"Content-Type": "image/png",
                                           "Cache-Control": "private, max-age=86400"})


# --- the stage -------------------------------------------------------------------------------


def _stage_out(service: ContentService, conference_id: int, change: ContentChange | None = None) -> dict[str, Any]:
    snap = service.snapshot(conference_id)
    showing = snap.get("showing")
    image_url = None
    if isinstance(showing, dict) and not showing.get("screen"):  # a live screen has no page image
        image_url = f"/api/v1/content/{showing['item_id']}/pages/{showing['page']}"
    out = StageOut(
        conference_id=conference_id, version=int(str(snap["version"])),
        changed=change is None or change.change.value != "none",
        layout=change.layout if change else None,
        layout_before=snap.get("layout_before") if isinstance(snap.get("layout_before"), str) else None,
        showing=showing if isinstance(showing, dict) else None, image_url=image_url,
    )
    return out.model_dump(mode="json")


@api("What the briefing's stage shows now", role="viewer", response=StageOut, tags=("content",))
async def stage(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    conference_id = _int(request.match_info["conference_id"], "conference_id")
    return respond_as(StageOut, _stage_out(_service(request), conference_id))


@api("Show an item on the stage", role="operator", body=ShowBody, response=StageOut, tags=("content",))
async def show(request: web.Request) -> web.Response:
    principal = await require_role(request, "operator")
    service = _service(request)
    conference_id = _int(request.match_info["conference_id"], "conference_id")
    body = await read_json(request, ShowBody)
    try:
        change = await service.show(conference_id, body.item_id, actor=principal.actor,
                                    ip=client_ip(request), page=body.page,
                                    layout_now=body.layout or request.app[PROGRAM].current_layout(conference_id))
    except ContentError as exc:
        raise refuse(exc) from exc
    return respond_as(StageOut, _stage_out(service, conference_id, change))


@api("Step the stage (next, prev, goto, play, pause, seek, stop...)", role="operator", response=StageOut,
     tags=("content",))
async def step(request: web.Request) -> web.Response:
    principal = await require_role(request, "operator")
    service = _service(request)
    conference_id = _int(request.match_info["conference_id"], "conference_id")
    verb = request.match_info["verb"]
    if verb not in VERBS:
        raise refuse(ContentError("bad_request", verb))
    page, position = 0, 0.0
    if verb == "goto":
        page = (await read_json(request, GotoBody)).page
    elif verb == "seek":
        position = (await read_json(request, SeekBody)).position_s
    else:
        await read_json(request, EmptyBody)
    try:
        change = await service.step(conference_id, verb, actor=principal.actor, ip=client_ip(request),
                                    page=page, position_s=position)
    except ContentError as exc:
        raise refuse(exc) from exc
    return respond_as(StageOut, _stage_out(service, conference_id, change))


class AllowBody(BaseModel):
    allow: bool = True


class AllowedOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    conference_id: int
    allowed: list[str]


@api("Let a district present while another holds the floor, or take it back", role="operator",
     body=AllowBody, response=AllowedOut, tags=("content",))
async def allow_district(request: web.Request) -> web.Response:
    """The chair lets a district present while another holds the floor (or takes it back)."""
    principal = await require_role(request, "operator")
    conference_id = _int(request.match_info["conference_id"], "conference_id")
    site = request.match_info["site"]
    if not 1 <= len(site) <= 64:
        raise refuse(ContentError("bad_request", "site"))
    body = await read_json(request, AllowBody)
    service = _service(request)
    await service.allow(conference_id, site, body.allow, actor=principal.actor, ip=client_ip(request))
    return respond_as(AllowedOut, {"conference_id": conference_id,
                                   "allowed": sorted(service.allowed.get(conference_id, set()))})


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/v1/conferences/{conference_id}/content/districts/{site}/allow", allow_district)
    app.router.add_post("/api/v1/conferences/{conference_id}/content", upload)
    app.router.add_get("/api/v1/conferences/{conference_id}/content", library)
    app.router.add_get("/api/v1/series/{series_id}/content", library)
    app.router.add_get("/api/v1/content/{item_id}", get_item)
    app.router.add_get("/api/v1/content/{item_id}/pages/{page}", page_image)
    app.router.add_get("/api/v1/conferences/{conference_id}/content/stage", stage)
    app.router.add_post("/api/v1/conferences/{conference_id}/content/stage/show", show)
    app.router.add_post("/api/v1/conferences/{conference_id}/content/stage/{verb}", step)
