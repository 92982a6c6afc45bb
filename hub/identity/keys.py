"""The identity room's application key."""

from __future__ import annotations

from aiohttp import web

from hub.identity.agents import IdentityAgents
from hub.identity.service import IdentityService

IDENTITY = web.AppKey("identity", IdentityService)
# The agents' side (join gate, the clerk's window, roll-call pushes); set at startup.
IDENTITY_AGENTS = web.AppKey("identity_agents", IdentityAgents)
