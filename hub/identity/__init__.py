"""Identity: who is in each briefing's rooms, roll calls, confidential (ลับ) briefings, join codes.

Its own room rather than part of ``hub/evidence``: polls need identities (one
vote per identified person) and the evidence package reads both, so identity
sits below polls and evidence and neither depends on the other's internals.
The agent's window, the guest page and the join path (phase 2) call
``app[IDENTITY]`` (:class:`hub.identity.service.IdentityService`).
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from hub.conferences.keys import CONFERENCES
from hub.control.registry import REGISTRY
from hub.identity.agents import IdentityAgents
from hub.identity.http import add_routes
from hub.identity.keys import IDENTITY, IDENTITY_AGENTS
from hub.identity.service import IdentityService
from hub.keys import ENGINE, SETTINGS
from hub.mail.keys import OUTBOX

__all__ = ["IDENTITY", "setup"]


async def _wake_outbox_on_mail(app: web.Application) -> None:
    """The one-time join code goes out now, not at the outbox's next poll.

    The service queues the mail on a worker thread (routes call it through
    ``asyncio.to_thread``) and the outbox's wake is an ``asyncio.Event``, so the
    wake is handed to the loop rather than set from that thread.
    """
    loop = asyncio.get_running_loop()
    outbox = app[OUTBOX]

    def wake() -> None:
        loop.call_soon_threadsafe(outbox.wake)

    app[IDENTITY].on_mail = wake


async def _install_agents(app: web.Application) -> None:
    """The join gate and the clerk's reports; on_startup runs after the conference manager exists."""
    agents = IdentityAgents(app[IDENTITY], app[REGISTRY], app[CONFERENCES])
    agents.install()
    app[IDENTITY_AGENTS] = agents


def setup(app: web.Application) -> None:
    s = app[SETTINGS]
    app[IDENTITY] = IdentityService(app[ENGINE], code_ttl_s=s.identity_join_code_ttl_s,
                                    code_attempts=s.identity_join_code_attempts)
    app.on_startup.append(_wake_outbox_on_mail)
    app.on_startup.append(_install_agents)
    add_routes(app)
