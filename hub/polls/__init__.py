"""Polls: open and secret ballots in a briefing, per site or per identified person.

The agent's window and the guest page (phase 2) vote through ``app[POLLS].avote``;
the compositor's results card (phase 2) reads ``app[POLLS].view``.
"""

from __future__ import annotations

from aiohttp import web

from hub.identity.keys import IDENTITY
from hub.keys import ENGINE, EVENTS
from hub.polls.http import add_routes
from hub.polls.keys import POLLS
from hub.polls.service import PollService

__all__ = ["POLLS", "setup"]


def setup(app: web.Application) -> None:
    app[POLLS] = PollService(app[ENGINE], app[IDENTITY], app[EVENTS])
    add_routes(app)
