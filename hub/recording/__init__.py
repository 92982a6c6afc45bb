"""Recording: one MP4 (the program's own H.264 packets, remuxed, + AAC of the full mix) and one MP3 per briefing.

The media worker writes the files (:mod:`hub.media.recorder`); this room decides
when (operator, series setting, never a confidential briefing), finishes them
(duration, SHA-256), lists and serves them, keeps them for the retention period
unless an admin put them under legal hold. ``app[RECORDINGS]`` is
:class:`hub.recording.service.RecordingService`; the evidence package lists
:func:`hub.recording.store.evidence_entries`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from hub.alarms.keys import ALARMS
from hub.conferences.keys import CONFERENCES
from hub.identity.keys import IDENTITY
from hub.keys import ENGINE, SETTINGS
from hub.recording.http import add_routes
from hub.recording.keys import RECORDINGS
from hub.recording.page import add_page
from hub.recording.service import RecordingService

__all__ = ["RECORDINGS", "setup"]


def setup(app: web.Application) -> None:
    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        # After the conferences room's context: its manager exists now, and at shutdown
        # the recordings are closed before the manager stops the media workers.
        service = RecordingService(app[SETTINGS], app[ENGINE], app[CONFERENCES], app[IDENTITY], app[ALARMS])
        app[RECORDINGS] = service
        await service.startup()
        yield
        await service.shutdown()

    app.cleanup_ctx.append(lifetime)
    add_routes(app)
    add_page(app)
