"""Briefings room: series on a calendar, invitations by mail, each occurrence's timeline.

Pure rules in hub.briefings.model, tables in .store, the runtime (APScheduler
timeline, series changes) in .jobs, calendar and letters in .invitations,
routes in .http. At T0 it asks the conference manager to start the conference
(the manager's join path is the only one); it raises ``not_ready`` alarms and
tells the alarms room when briefings are; its mail goes through the outbox.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from hub.alarms.keys import ALARMS
from hub.briefings import http
from hub.briefings.jobs import Briefings
from hub.briefings.keys import ACCESS_LINKS, BRIEFINGS
from hub.conferences.keys import CONFERENCES
from hub.control.registry import REGISTRY
from hub.keys import ENGINE, EVENTS, SETTINGS
from hub.mail.keys import OUTBOX

__all__ = ["ACCESS_LINKS", "BRIEFINGS", "setup"]


async def _timeline(app: web.Application) -> AsyncIterator[None]:
    # Built at startup: the conference manager is created in its own room's startup, and the
    # access links are set by the guests room's setup (which runs after this room's).
    briefings = Briefings(app[SETTINGS], app[ENGINE], app[EVENTS], app[REGISTRY], app[CONFERENCES],
                          app[ALARMS], app[OUTBOX], app[ACCESS_LINKS])
    app[BRIEFINGS] = briefings
    await briefings.start()
    try:
        yield
    finally:
        await briefings.close()


def setup(app: web.Application) -> None:
    app.cleanup_ctx.append(_timeline)
    http.setup_routes(app)
