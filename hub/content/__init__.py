"""Content room (issue 14): slides, documents, photos and clips shown to every district at once.

``setup(app)`` builds the :class:`~hub.content.service.ContentService` (under
:data:`~hub.content.keys.CONTENT`), adds the routes and, at start, clears
what a previous stop left half-written.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web

from hub.content import http
from hub.content.keys import CONTENT
from hub.content.service import ContentService
from hub.keys import ENGINE, EVENTS, SETTINGS

__all__ = ["CONTENT", "ContentService", "setup"]


async def _lifetime(app: web.Application) -> AsyncIterator[None]:
    service = app[CONTENT]
    # After the database context (app.py appends it first): the sweep reads the library.
    await asyncio.to_thread(service.sweep)
    yield
    await service.close()


def setup(app: web.Application) -> None:
    app[CONTENT] = ContentService(app[SETTINGS], app[ENGINE], app[EVENTS])
    http.add_routes(app)
    app.cleanup_ctx.append(_lifetime)
