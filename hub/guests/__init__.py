"""Guests and browser districts (issue 15): the join page, the lobby, the chair's controls.

``setup(app)`` is the only thing :mod:`hub.app` calls; it gives the briefings room its access
links (``app[ACCESS_LINKS]``, the service's ``links_for_series``) and, at startup, attaches
:class:`hub.guests.bridge.ConferenceGuestMedia` (the conference manager's media worker) as the
room's :class:`hub.guests.media.GuestMedia`, and hands the service the identity and polls rooms
(issue 16): their join gate (a confidential briefing refuses guests), the guest's identity
record (``guest:web-<id>``) and the page's votes go through them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from hub.briefings.keys import ACCESS_LINKS
from hub.conferences.keys import CONFERENCES
from hub.guests.bridge import ConferenceGuestMedia
from hub.guests.http import add_routes
from hub.guests.keys import GUESTS
from hub.guests.service import GuestService
from hub.identity.keys import IDENTITY
from hub.keys import ENGINE, EVENTS, SETTINGS
from hub.polls.keys import POLLS
from hub.web.auth import session_key


def setup(app: web.Application) -> None:
    settings = app[SETTINGS]
    service = GuestService(app[ENGINE], settings, session_key(settings), app[EVENTS])
    app[GUESTS] = service
    # The briefings' mailing asks this room for every letter's links (it cannot import it).
    app[ACCESS_LINKS] = service.links_for_series
    add_routes(app, service)

    async def media(app: web.Application) -> AsyncIterator[None]:
        # After the conferences room's own cleanup context (FEATURES order): the manager exists.
        bridge = ConferenceGuestMedia(app[CONFERENCES], app[EVENTS], service.notify, service.briefing_ended)
        bridge.start()
        service.attach_media(bridge)
        # The identity and polls rooms are set up after this one: their services exist by now.
        service.attach_meeting(app[IDENTITY], app[POLLS])
        yield
        await bridge.stop()

    app.cleanup_ctx.append(media)
