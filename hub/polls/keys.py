"""The polls room's application key."""

from __future__ import annotations

from aiohttp import web

from hub.polls.card import ProgramCard
from hub.polls.service import PollService

POLLS = web.AppKey("polls", PollService)
# The results card in the program (set at startup, once the conference manager exists).
POLL_CARD = web.AppKey("poll_card", ProgramCard)
