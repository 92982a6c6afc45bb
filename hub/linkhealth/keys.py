"""The link-health room's app key."""

from __future__ import annotations

from aiohttp import web

from hub.linkhealth.intake import LinkHealth

LINKHEALTH = web.AppKey("linkhealth", LinkHealth)
