"""Conferences room: live conferences, the floor, the agenda, the program picture.

Pure domain: :mod:`.floor` (BFCP request states), :mod:`.layout` (tiles, send
profiles), :mod:`.agenda`, :mod:`.conference` (all of it together). Runtime:
:mod:`.manager` (``app[CONFERENCES]``), :mod:`.signalling` (typed commands to the
agents), :mod:`.store` (the ``conferences`` table), :mod:`.http` (the API).
The media worker it drives is :mod:`hub.media`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from hub.conferences import http
from hub.conferences.keys import CONFERENCES
from hub.conferences.manager import ConferenceManager
from hub.control.registry import REGISTRY
from hub.keys import ENGINE, EVENTS, SETTINGS

__all__ = ["CONFERENCES", "ConferenceManager", "setup"]


def setup(app: web.Application) -> None:
    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        mgr = ConferenceManager(app[SETTINGS], app[ENGINE], app[REGISTRY], app[EVENTS])
        app[CONFERENCES] = mgr
        await mgr.startup()
        yield
        await mgr.shutdown()

    app.cleanup_ctx.append(lifetime)
    http.add_routes(app)
