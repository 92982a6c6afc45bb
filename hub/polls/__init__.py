"""Polls: open and secret ballots in a briefing, per site or per identified person.

The agent's window and the guest page (phase 2) vote through ``app[POLLS].avote``;
the compositor's results card (phase 2) reads ``app[POLLS].view``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from hub.conferences.keys import CONFERENCES
from hub.control.registry import REGISTRY
from hub.identity.keys import IDENTITY
from hub.keys import ENGINE, EVENTS
from hub.polls.agents import PollAgents
from hub.polls.card import ProgramCard
from hub.polls.http import add_routes
from hub.polls.keys import POLL_CARD, POLLS
from hub.polls.service import PollService

__all__ = ["POLLS", "setup"]


def setup(app: web.Application) -> None:
    app[POLLS] = PollService(app[ENGINE], app[IDENTITY], app[EVENTS])

    async def agents(app: web.Application) -> AsyncIterator[None]:
        # A cleanup context appended after the conferences room's: its manager exists by now.
        pushes = PollAgents(app[POLLS], app[REGISTRY], app[CONFERENCES])
        pushes.install()
        card = ProgramCard(app[POLLS], app[CONFERENCES])
        card.install()
        app[POLL_CARD] = card
        yield
        await card.stop()
        await pushes.stop()

    app.cleanup_ctx.append(agents)
    add_routes(app)
