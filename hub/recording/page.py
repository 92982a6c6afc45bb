"""The control room's recordings page: running conferences (start/stop), the list, downloads, hold, delete."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from hub.recording import store
from hub.recording.keys import RECORDINGS
from hub.recording.labels import LABELS
from hub.web import i18n
from hub.web.auth import require_role


@aiohttp_jinja2.template("recordings.html")
async def recordings_page(request: web.Request) -> dict[str, Any]:
    await require_role(request, "viewer")
    svc = request.app[RECORDINGS]
    rows = await asyncio.to_thread(store.listing, svc.engine)
    live = [{"id": cid, "title": lc.conf.title, "recording": cid in svc.active}
            for cid, lc in sorted(svc.conferences.live.items())]
    labels = LABELS.get(i18n.current_language.get(), LABELS["th"])
    return {"rows": rows, "live": live, "L": labels, "mp3_pending": svc.mp3_pending,
            "retention": labels["retention"].format(days=svc.settings.recording_retention_days)}


def add_page(app: web.Application) -> None:
    app.router.add_get("/recordings", recordings_page, name="ui_recordings")
