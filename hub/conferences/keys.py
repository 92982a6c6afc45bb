"""The conferences room's app key (its own module, so the routes and other rooms import no setup)."""

from __future__ import annotations

from aiohttp import web

from hub.conferences.manager import ConferenceManager

# Live conferences and their media workers (set by hub.conferences.setup).
CONFERENCES = web.AppKey("conferences", ConferenceManager)
