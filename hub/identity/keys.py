"""The identity room's application key."""

from __future__ import annotations

from aiohttp import web

from hub.identity.service import IdentityService

IDENTITY = web.AppKey("identity", IdentityService)
