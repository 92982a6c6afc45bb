"""A district presents: the clerk's file, uploaded by its agent, converted like any, shown when allowed.

Routes under ``/agent/`` authenticate the agent with its site token
(``X-Salaklang-Site`` / ``X-Salaklang-Token``, as the log upload does); the
models are :mod:`site_agent.protocol.content`, shared with the agent.

A district may present while it holds the floor, or when the chair allowed
it (``POST /api/v1/conferences/{cid}/content/districts/{site}/allow``).
Otherwise the upload is refused before its body is read, politely, in Thai
and English. An allowed upload goes on screen as soon as it is converted
(checked again then: the floor may have moved meanwhile), and the clerk
steps its pages while its content is the one shown.

A district shares its screen live under the same rule (``POST
/agent/content/screen``): the stage then names the district, the media
worker shows its screen stream (:mod:`hub.media.screen`) in the content tile,
and ``/agent/content/screen/stop`` (or the operator ending content) brings
back the layout from before. The presentation layout's small tile keeps the
camera of whoever is heard (the floor holder, else the first participant), as
for a file: the face should match the voice, the presenting district usually
holds the floor, and one the chair lets present without it is, by the chair's
choice, not the one speaking.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from hub import audit
from hub.conferences.keys import CONFERENCES
from hub.conferences.manager import LiveConference
from hub.content.http import receive_file, refuse
from hub.content.keys import CONTENT, PROGRAM
from hub.content.model import ContentError
from hub.content.program import series_of
from hub.content.service import ContentService
from hub.control.enrolment import check_site_token
from hub.keys import ENGINE
from hub.models import Site
from hub.web.auth import client_ip
from hub.web.body import read_json
from hub.web.errors import json_error
from site_agent.protocol.content import DistrictStage, DistrictStep, DistrictUploadAnswer

log = logging.getLogger("hub.content.district")

SITE_HEADER = "X-Salaklang-Site"
TOKEN_HEADER = "X-Salaklang-Token"
STEPS = ("next", "prev", "goto", "end")

_tasks: set[asyncio.Task[None]] = set()


async def require_site(request: web.Request) -> Site:
    token = request.headers.get(TOKEN_HEADER, "").strip()
    code = request.headers.get(SITE_HEADER, "")
    if not token or not code:
        raise json_error(401, f"{SITE_HEADER} and {TOKEN_HEADER} headers required")
    engine = request.app[ENGINE]
    check = await asyncio.to_thread(check_site_token, engine, code, token)
    if not check.ok or check.site is None:
        await audit.arecord(engine, actor=f"agent:{code}", action="agent.http_refused", target=code, ok=False,
                            ip=client_ip(request), detail={"path": request.path, "token_of": check.token_of})
        raise json_error(401, "site token refused")
    return check.site


def actor_of(site: str) -> str:
    return f"agent:{site}"


def may_present(service: ContentService, live: LiveConference, site: str) -> bool:
    return live.conf.holder() == site or site in service.allowed.get(live.conf.id, set())


def _live(request: web.Request, site: str) -> LiveConference:
    live = request.app[CONFERENCES].conference_of(site)
    if live is None or live.conf.status == "ended":
        raise refuse(ContentError("no_briefing"))
    return live


def _stage(service: ContentService, live: LiveConference, site: str) -> DistrictStage:
    cid = live.conf.id
    item = service.shown_item(cid)
    stage = service.stage(cid)
    shown = stage.showing
    screen = stage.screen_of() == site
    mine = screen or (item is not None and item.uploaded_by == actor_of(site))
    return DistrictStage(
        conference_id=cid, allowed=may_present(service, live, site), mine=mine,
        item_id=item.id if item is not None else None, name=item.original_name if item is not None else "",
        page=shown.page if shown is not None else 0, pages=shown.pages if shown is not None else 0,
        status=item.status if item is not None else "", screen=screen,
    )


async def _allowed_or_refuse(request: web.Request, service: ContentService, live: LiveConference, site: str,
                             action: str) -> None:
    """A district may present when it holds the floor or the chair allowed it; a refusal is audited."""
    if may_present(service, live, site):
        return
    await audit.arecord(service.engine, actor=actor_of(site), action=action,
                        target=f"conference:{live.conf.id}", ok=False, ip=client_ip(request),
                        detail={"code": "district_not_allowed", "holder": live.conf.holder()})
    raise refuse(ContentError("district_not_allowed"))


async def upload(request: web.Request) -> web.Response:
    site = await require_site(request)
    service = request.app[CONTENT]
    live = _live(request, site.code)
    # refused before a byte of the file is read; the briefing goes on
    await _allowed_or_refuse(request, service, live, site.code, "content.upload")
    try:
        sink, name, kind, _series = await receive_file(request, service)  # the district names no series
        series_id = await asyncio.to_thread(series_of, request.app[CONFERENCES], live.conf.id)
        item = await service.ingest(sink, name, kind, conference_id=live.conf.id, series_id=series_id,
                                    actor=actor_of(site.code), ip=client_ip(request))
    except ContentError as exc:
        raise refuse(exc) from exc
    assert item.id is not None
    task = asyncio.create_task(_show_when_ready(request.app, live.conf.id, item.id, site.code))
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
    answer = DistrictUploadAnswer(item_id=item.id, conference_id=live.conf.id, name=item.original_name,
                                  status=item.status)
    return web.json_response(answer.model_dump(mode="json"), status=202)


async def _show_when_ready(app: web.Application, conference_id: int, item_id: int, site: str) -> None:
    service = app[CONTENT]
    try:
        item = await service.wait_converted(item_id)
        live = app[CONFERENCES].live.get(conference_id)
        if item.status != "ready" or live is None or not may_present(service, live, site):
            log.info("district %s: content %s not shown (status %s)", site, item_id, item.status)
            return
        await service.show(conference_id, item_id, actor=actor_of(site),
                           layout_now=app[PROGRAM].current_layout(conference_id))
    except ContentError as exc:
        log.info("district %s: content %s not shown: %s", site, item_id, exc.en)
    except Exception:
        log.exception("district %s: content %s not shown", site, item_id)


async def stage(request: web.Request) -> web.Response:
    site = await require_site(request)
    live = _live(request, site.code)
    return web.json_response(_stage(request.app[CONTENT], live, site.code).model_dump(mode="json"))


async def step(request: web.Request) -> web.Response:
    site = await require_site(request)
    service = request.app[CONTENT]
    live = _live(request, site.code)
    verb = request.match_info["verb"]
    if verb not in STEPS:
        raise refuse(ContentError("bad_request", verb))
    body = await read_json(request, DistrictStep)
    item = service.shown_item(live.conf.id)
    if item is None:
        raise refuse(ContentError("nothing_shown"))
    if item.uploaded_by != actor_of(site.code):
        raise refuse(ContentError("not_yours"))
    try:
        await service.step(live.conf.id, verb, actor=actor_of(site.code), ip=client_ip(request),
                           page=body.page)
    except ContentError as exc:
        raise refuse(exc) from exc
    return web.json_response(_stage(service, live, site.code).model_dump(mode="json"))


async def share_screen(request: web.Request) -> web.Response:
    """The district's live screen on the content tile, when it holds the floor or the chair allowed it."""
    site = await require_site(request)
    service = request.app[CONTENT]
    live = _live(request, site.code)
    await _allowed_or_refuse(request, service, live, site.code, "content.screen.start")
    await service.share_screen(live.conf.id, site.code, actor=actor_of(site.code), ip=client_ip(request),
                               layout_now=request.app[PROGRAM].current_layout(live.conf.id))
    return web.json_response(_stage(service, live, site.code).model_dump(mode="json"))


async def stop_screen(request: web.Request) -> web.Response:
    site = await require_site(request)
    service = request.app[CONTENT]
    live = _live(request, site.code)
    try:
        await service.stop_screen(live.conf.id, site.code, actor=actor_of(site.code), ip=client_ip(request))
    except ContentError as exc:
        raise refuse(exc) from exc
    return web.json_response(_stage(service, live, site.code).model_dump(mode="json"))


def add_routes(app: web.Application) -> None:
    app.router.add_post("/agent/content", upload)
    app.router.add_get("/agent/content/stage", stage)
    app.router.add_post("/agent/content/stage/{verb}", step)
    app.router.add_post("/agent/content/screen", share_screen)
    app.router.add_post("/agent/content/screen/stop", stop_screen)
