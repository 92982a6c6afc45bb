"""The alarms room's app key."""

from __future__ import annotations

from aiohttp import web

from hub.alarms.service import Alarms

ALARMS = web.AppKey("alarms", Alarms)
