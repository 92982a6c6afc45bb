"""The briefings room's app key."""

from __future__ import annotations

from aiohttp import web

from hub.briefings.jobs import Briefings

BRIEFINGS = web.AppKey("briefings", Briefings)
