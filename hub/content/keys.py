"""The content room's typed application keys."""

from __future__ import annotations

from aiohttp import web

from hub.content.program import ProgramBridge
from hub.content.service import ContentService

CONTENT = web.AppKey("content", ContentService)
PROGRAM = web.AppKey("content_program", ProgramBridge)  # the stage into the program (layout, media worker)
