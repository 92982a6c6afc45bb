"""The district board: a tile per district from the registry's snapshot, and one JSON call
that gives every district's link colour and, before a briefing, its readiness, so the
page needs one request instead of forty.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from hub.briefings.keys import BRIEFINGS
from hub.control.registry import REGISTRY
from hub.linkhealth.keys import LINKHEALTH
from hub.models import utcnow
from hub.web.auth import require_role


def _link_states(app: web.Application) -> dict[str, Any]:
    return {code: live.as_dict() for code, live in app[LINKHEALTH].live.items()}


def _readiness(app: web.Application) -> dict[str, Any] | None:
    """The readiness board of the next (or running) briefing; None when none is coming."""
    briefings = app[BRIEFINGS]
    now = utcnow()
    rows = briefings.list_occurrences(now - timedelta(hours=12), now + timedelta(days=2))
    for occ in rows:
        if occ["state"] in ("ended", "missed", "skipped", "cancelled"):
            continue
        board: dict[str, Any] = briefings.board(occ["id"])
        return board
    return None


@aiohttp_jinja2.template("board.html")
async def board_page(request: web.Request) -> dict[str, Any]:
    await require_role(request, "viewer")
    sites = [s for s in request.app[REGISTRY].snapshot() if s["kind"] == "district"]
    return {"sites": sites, "online": sum(1 for s in sites if s["online"])}


async def board_extras(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    app = request.app
    readiness = None
    with contextlib.suppress(web.HTTPException, LookupError, ValueError):
        readiness = await asyncio.to_thread(_readiness, app)
    return web.json_response({"links": _link_states(app), "readiness": readiness})


def setup(app: web.Application) -> None:
    app.router.add_get("/", board_page, name="board")
    app.router.add_get("/ui/board.json", board_extras)
