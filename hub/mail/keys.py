"""The mail room's app key: the one outbox every room sends through."""

from __future__ import annotations

from aiohttp import web

from hub.mail.service import Outbox

OUTBOX = web.AppKey("outbox", Outbox)
