"""The content room's typed application key."""

from __future__ import annotations

from aiohttp import web

from hub.content.service import ContentService

CONTENT = web.AppKey("content", ContentService)
