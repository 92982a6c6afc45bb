"""Alarms room: a district offline, a red link, a failed self-test — raised, delivered, acknowledged.

It listens to the agent registry (presence) and to link health (colour); the
briefings room raises ``not_ready`` and tells it when briefings are. E-mail is
queued in the mail room's outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from hub.alarms import http
from hub.alarms.keys import ALARMS
from hub.alarms.service import Alarms
from hub.control.registry import REGISTRY
from hub.keys import ENGINE, EVENTS, SETTINGS
from hub.linkhealth.keys import LINKHEALTH
from hub.mail.keys import OUTBOX

__all__ = ["ALARMS", "setup"]


async def _watch(app: web.Application) -> AsyncIterator[None]:
    alarms = app[ALARMS]
    app[LINKHEALTH].add_status_listener(alarms.on_link_status)
    app[REGISTRY].add_connect_listener(alarms.on_connect)
    startup = asyncio.create_task(alarms.startup_check())
    try:
        yield
    finally:
        startup.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await startup
        await alarms.close()


def setup(app: web.Application) -> None:
    registry = app[REGISTRY]
    app[ALARMS] = Alarms(app[SETTINGS], app[ENGINE], app[EVENTS].publish, app[OUTBOX].wake, registry.is_online)
    app.cleanup_ctx.append(_watch)
    http.setup_routes(app)
