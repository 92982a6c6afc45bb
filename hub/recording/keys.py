"""The recording room's application key."""

from __future__ import annotations

from aiohttp import web

from hub.recording.service import RecordingService

RECORDINGS = web.AppKey("recordings", RecordingService)
