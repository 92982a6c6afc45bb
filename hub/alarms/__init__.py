"""Alarms room: a district offline, a red link, a failed self-test — raised, delivered, acknowledged.

It listens to the agent registry (presence), to link health (colour) and to the event
bus (the conference room's ``media_flapping`` alerts); the briefings room raises
``not_ready`` and tells it when briefings are. E-mail is
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
from hub.events import Subscription
from hub.keys import ENGINE, EVENTS, SETTINGS
from hub.linkhealth.keys import LINKHEALTH
from hub.mail.keys import OUTBOX

__all__ = ["ALARMS", "setup"]


async def _watch(app: web.Application) -> AsyncIterator[None]:
    alarms = app[ALARMS]
    app[LINKHEALTH].add_status_listener(alarms.on_link_status)
    app[REGISTRY].add_connect_listener(alarms.on_connect)
    startup = asyncio.create_task(alarms.startup_check())
    # The conference room's flapping alerts arrive on the event bus (it imports no room).
    sub: Subscription = app[EVENTS].subscribe()
    follow = asyncio.create_task(alarms.follow_events(sub.queue))
    try:
        yield
    finally:
        sub.close()
        for task in (startup, follow):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await alarms.close()


def setup(app: web.Application) -> None:
    registry = app[REGISTRY]
    links = app[LINKHEALTH]
    app[ALARMS] = Alarms(app[SETTINGS], app[ENGINE], app[EVENTS].publish, app[OUTBOX].wake, registry.is_online,
                         link_view=lambda code: links.live_of(code).as_dict())
    app.cleanup_ctx.append(_watch)
    http.setup_routes(app)
