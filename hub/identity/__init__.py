"""Identity: who is in each briefing's rooms, roll calls, confidential (ลับ) briefings, join codes.

Its own room rather than part of ``hub/evidence``: polls need identities (one
vote per identified person) and the evidence package reads both, so identity
sits below polls and evidence and neither depends on the other's internals.
The agent's window, the guest page and the join path (phase 2) call
``app[IDENTITY]`` (:class:`hub.identity.service.IdentityService`).
"""

from __future__ import annotations

from aiohttp import web

from hub.identity.http import add_routes
from hub.identity.keys import IDENTITY
from hub.identity.service import IdentityService
from hub.keys import ENGINE, SETTINGS

__all__ = ["IDENTITY", "setup"]


def setup(app: web.Application) -> None:
    s = app[SETTINGS]
    app[IDENTITY] = IdentityService(app[ENGINE], code_ttl_s=s.identity_join_code_ttl_s,
                                    code_attempts=s.identity_join_code_attempts)
    add_routes(app)
