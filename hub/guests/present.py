"""A guest presents: a photo or clip from the phone's gallery, through the content room's upload
path (same size, magic-byte and name checks, same conversion), shown when the chair allows it.

The guest may present while it holds the floor, or when the chair allowed its participant
(``POST /api/v1/conferences/{cid}/content/districts/guest-<id>/allow``, the route the chair
uses for a district). Otherwise the upload is refused before its body is read. An allowed
upload goes on screen once converted (checked again then: the floor may have moved).
Only photos and clips: a guest's phone has no office documents to show.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from aiohttp_session import get_session

from hub import audit
from hub.conferences.keys import CONFERENCES
from hub.content.http import receive_file, refuse
from hub.content.keys import CONTENT, PROGRAM
from hub.content.model import ContentError, Kind
from hub.guests import model as m
from hub.guests.keys import GUESTS
from hub.web.auth import client_ip

log = logging.getLogger("hub.guests.present")

PHONE_KINDS = {Kind.JPEG, Kind.PNG, Kind.MP4}
_tasks: set[asyncio.Task[None]] = set()


def _occurrence(request: web.Request) -> int:
    try:
        return int(request.match_info["id"])
    except (KeyError, ValueError) as exc:
        raise m.Refusal("bad_id", "รหัสไม่ถูกต้อง", "id must be a number", 400, "id") from exc


async def upload(request: web.Request) -> web.Response:
    service = request.app[GUESTS]
    occurrence_id = _occurrence(request)
    session = await get_session(request)
    guest = await asyncio.to_thread(service.seat_guest, str(session.get(f"guest_seat:{occurrence_id}", "")))
    if guest is None or guest.id is None or guest.occurrence_id != occurrence_id:
        raise m.Refusal("no_seat", "ยังไม่ได้เข้าร่วมการประชุม", "You have not joined this briefing", 401)
    if guest.status != m.GuestStatus.ADMITTED.value:
        raise m.Refusal("not_admitted", "ยังไม่ได้รับอนุญาตให้เข้าร่วม", "You have not been admitted yet", 409)
    view = service.media.view(guest.id) if service.media is not None else None
    if view is None:
        raise m.Refusal("not_connected", "ยังไม่ได้เชื่อมต่อภาพและเสียง", "Your browser is not connected yet", 409)
    cid, key = int(view["conference_id"]), str(view["participant"])
    content = request.app[CONTENT]
    actor = f"guest:{guest.id}"
    if not _may_present(request.app, cid, key):
        await audit.arecord(content.engine, actor=actor, action="content.upload", target=f"conference:{cid}",
                            ok=False, ip=client_ip(request), detail={"code": "guest_not_allowed"})
        raise m.Refusal("present_not_allowed", "ผู้ดำเนินการประชุมยังไม่อนุญาตให้นำเสนอ กรุณายกมือขอพูดหรือรอการอนุญาต",
                        "The chair has not allowed you to present; raise your hand or wait", 403)
    try:
        sink, name, kind, _series = await receive_file(request, content)
        if kind not in PHONE_KINDS:
            sink.discard()
            raise m.Refusal("present_kind", "นำเสนอได้เฉพาะรูปภาพ (JPEG, PNG) หรือคลิป MP4",
                            "Only a photo (JPEG, PNG) or an MP4 clip can be presented", 415, "file")
        item = await content.ingest(sink, name, kind, conference_id=cid, series_id=None, actor=actor,
                                    ip=client_ip(request))
    except ContentError as exc:
        raise refuse(exc) from exc
    assert item.id is not None
    task = asyncio.create_task(_show_when_ready(request.app, cid, item.id, key, actor))
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
    return web.json_response({"item_id": item.id, "conference_id": cid, "name": item.original_name,
                              "status": item.status}, status=202)


def _may_present(app: web.Application, cid: int, key: str) -> bool:
    live = app[CONFERENCES].live.get(cid)
    if live is None or live.conf.status == "ended":
        return False
    return live.conf.holder() == key or key in app[CONTENT].allowed.get(cid, set())


async def _show_when_ready(app: web.Application, cid: int, item_id: int, key: str, actor: str) -> None:
    content = app[CONTENT]
    try:
        item = await content.wait_converted(item_id)
        if item.status != "ready" or not _may_present(app, cid, key):
            log.info("%s: content %s not shown (status %s)", key, item_id, item.status)
            return
        await content.show(cid, item_id, actor=actor, layout_now=app[PROGRAM].current_layout(cid))
    except ContentError as exc:
        log.info("%s: content %s not shown: %s", key, item_id, exc.en)
    except Exception:
        log.exception("%s: content %s not shown", key, item_id)
