"""The polls room's application key."""

from __future__ import annotations

from aiohttp import web

from hub.polls.service import PollService

POLLS = web.AppKey("polls", PollService)
