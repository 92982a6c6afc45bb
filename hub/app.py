"""The application factory: everything the hub serves, assembled in one place."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from hub import (
    alarms,
    briefings,
    conferences,
    content,
    control,
    evidence,
    guests,
    identity,
    inventory,
    linkhealth,
    mail,
    polls,
    recording,
    reports,
    ui,
    updates,
)
from hub import web as web_room
from hub.db import create_db_engine, migrate
from hub.events import EventBus
from hub.keys import DEMO, ENGINE, EVENTS, METRICS, SETTINGS
from hub.metrics import Metrics
from hub.settings import Settings

log = logging.getLogger("hub.app")

# Each room exposes setup(app): its routes, handlers, cleanup_ctx entries and app keys.
# Order matters where a room plugs into another at setup: the web machinery first (its
# middlewares and templates), then the control room (the registry others plug into).
FEATURES: list[Callable[[web.Application], None]] = [
    inventory.setup,  # sites and links from the inventory YAML, synced before any room reads them
    web_room.setup,  # errors, body reader, auth, sessions, pages, health, metrics, accounts
    control.setup,  # agent sockets, enrolment, sites and commands API
    mail.setup,  # the mail outbox and its SMTP sender with retries (alarms, invitations)
    linkhealth.setup,  # probes' UDP echo, SNMP, link history (issue 5)
    alarms.setup,  # offline / red / not-ready alarms: webhook, e-mail through the outbox (issue 5)
    conferences.setup,  # live conferences, floor, agenda, media worker, signalling (issue 3)
    briefings.setup,  # briefing series, timeline jobs, invitations (issue 4)
    ui.setup,  # control-room pages and their live feed (issue 6)
    updates.setup,  # agent releases, rollout waves, agent log uploads, self-tests (issue 7)
    reports.setup,  # monthly cost and usage reports, the 07:00 job on the 1st (issue 13)
    content.setup,  # slides, documents, photos and clips: upload, conversion, presentation (issue 14)
    guests.setup,  # guests and browser districts: join page, passcode, lobby (issue 15)
    identity.setup,  # who is in each room, roll calls, confidential briefings' join codes (issue 16)
    polls.setup,  # open and secret ballots (issue 16)
    evidence.setup,  # traffic log and the signed evidence package per briefing (issue 16)
    recording.setup,  # MP4 and MP3 of every briefing, retention, legal hold (issue 14)
]


async def _database(app: web.Application) -> AsyncIterator[None]:
    engine = app[ENGINE]
    await asyncio.to_thread(migrate, engine)
    yield
    engine.dispose()


def create_app(settings: Settings) -> web.Application:
    """The kernel's state (settings, database, event bus, metrics), then every room's setup."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = web.Application(client_max_size=2 * 1024 * 1024)
    app[SETTINGS] = settings
    app[EVENTS] = EventBus()
    app[METRICS] = Metrics()
    app[DEMO] = False
    app[ENGINE] = create_db_engine(settings.effective_database_url)
    app.cleanup_ctx.append(_database)  # before any room's start-up: they read the migrated schema
    for feature in FEATURES:
        feature(app)
    return app
