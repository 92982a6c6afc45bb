"""The briefings room's app keys."""

from __future__ import annotations

from aiohttp import web

from hub.briefings.invitations import AccessLinks
from hub.briefings.jobs import Briefings

BRIEFINGS = web.AppKey("briefings", Briefings)

# Where the invitations' access links come from. The guests room sets it in its setup (it owns
# the links and the join page they open); briefings only reads it, so it never imports guests.
ACCESS_LINKS: web.AppKey[AccessLinks] = web.AppKey("access_links")
