"""The control room's live feed: one WebSocket per open page, fed by the event bus.

The pages are its only client: a page gets the registry's snapshot of every site first,
then every event any room publishes (``site``, ``alarm``, ``selftest``, ...), and re-reads
state when it reconnects (a slow page loses the oldest events, see :mod:`hub.events`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

from aiohttp import WSMsgType, web

from hub.control.registry import REGISTRY
from hub.keys import EVENTS, METRICS
from hub.web.auth import require_role

UI_SOCKETS: web.AppKey[set[web.WebSocketResponse]] = web.AppKey("ui_sockets")


async def events_ws(request: web.Request) -> web.WebSocketResponse:
    await require_role(request, "viewer")
    ws = web.WebSocketResponse(heartbeat=20)
    await ws.prepare(request)
    sub = request.app[EVENTS].subscribe()
    sockets = request.app[UI_SOCKETS]
    sockets.add(ws)
    metrics = request.app[METRICS]
    metrics.ui_clients.set(len(sockets))
    await ws.send_str(json.dumps({"kind": "snapshot", "at": time.time(),
                                  "data": {"sites": request.app[REGISTRY].snapshot()}}, default=str))

    async def pump() -> None:
        while True:
            try:
                await ws.send_str(await sub.queue.get())
            except ConnectionResetError:
                return  # the page left while an event was on its way: the receive loop ends too

    pump_task = asyncio.create_task(pump())
    try:
        async for msg in ws:  # the page sends nothing; this notices it leaving
            if msg.type == WSMsgType.ERROR:
                break
    finally:
        pump_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pump_task
        sub.close()
        sockets.discard(ws)
        metrics.ui_clients.set(len(sockets))
    return ws


async def _close_ui_sockets(app: web.Application) -> None:
    sockets = app[UI_SOCKETS]
    for ws in list(sockets):
        with contextlib.suppress(Exception):
            await ws.close(code=1001, message=b"hub shutting down")


def setup(app: web.Application) -> None:
    app[UI_SOCKETS] = set()
    app.on_shutdown.append(_close_ui_sockets)
    app.router.add_get("/api/v1/events/ws", events_ws)
