"""Content room (issue 14): slides, documents, photos and clips shown to every district at once.

``setup(app)`` builds the :class:`~hub.content.service.ContentService` (under
:data:`~hub.content.keys.CONTENT`), adds the routes and, at start, clears
what a previous stop left half-written.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web

from hub.conferences.keys import CONFERENCES
from hub.content import district, http
from hub.content.keys import CONTENT, PROGRAM
from hub.content.program import ProgramBridge
from hub.content.service import ContentService
from hub.keys import ENGINE, EVENTS, SETTINGS

__all__ = ["CONTENT", "PROGRAM", "ContentService", "setup"]


async def _lifetime(app: web.Application) -> AsyncIterator[None]:
    service = app[CONTENT]
    # After the database context (app.py appends it first): the sweep reads the library.
    await asyncio.to_thread(service.sweep)
    # After the conferences' context (their setup comes first in FEATURES): the manager exists.
    app[PROGRAM].start(app[CONFERENCES])
    yield
    await app[PROGRAM].stop()
    await service.close()


def setup(app: web.Application) -> None:
    app[CONTENT] = ContentService(app[SETTINGS], app[ENGINE], app[EVENTS])
    app[PROGRAM] = ProgramBridge(app[CONTENT])
    district.add_routes(app)
    http.add_routes(app)
    app.cleanup_ctx.append(_lifetime)
