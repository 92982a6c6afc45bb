"""Typed keys for what the application stores (aiohttp ``web.AppKey``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa
from aiohttp import web

from hub.settings import Settings

if TYPE_CHECKING:
    from hub.conferences.manager import ConferenceManager
    from hub.control.registry import AgentRegistry
    from hub.events import EventBus
    from hub.web.i18n import Catalogs

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", sa.Engine)
REGISTRY: web.AppKey[AgentRegistry] = web.AppKey("registry")
EVENTS: web.AppKey[EventBus] = web.AppKey("events")
CATALOGS: web.AppKey[Catalogs] = web.AppKey("catalogs")
# Live conferences and their media workers (issue 3, hub/conferences.py).
CONFERENCES: web.AppKey[ConferenceManager] = web.AppKey("conferences")
# Set by `hub demo` only: start/stop simulated district agents from the board.
DEMO: web.AppKey[object] = web.AppKey("demo")
