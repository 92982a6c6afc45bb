"""Outgoing mail: one database outbox and its SMTP sender with retries.

Its own room because briefings (invitations), alarms and, later, reports all
send through it: each enqueues rows (hub.mail.store.enqueue) and wakes
``app[OUTBOX]``; only this room talks SMTP.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from hub.keys import ENGINE, SETTINGS
from hub.mail.keys import OUTBOX
from hub.mail.service import Outbox, retry_policy_from, running_outbox, smtp_config_from

__all__ = ["OUTBOX", "setup"]


async def _sender(app: web.Application) -> AsyncIterator[None]:
    async with running_outbox(app[OUTBOX]):
        yield


def setup(app: web.Application) -> None:
    settings = app[SETTINGS]
    app[OUTBOX] = Outbox(app[ENGINE], smtp_config_from(settings), retry_policy_from(settings), settings.mail_poll_s)
    app.cleanup_ctx.append(_sender)
