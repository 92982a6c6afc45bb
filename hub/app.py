"""The application factory: everything the hub serves, assembled in one place."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from aiohttp import web
from aiohttp_session import session_middleware
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from hub import evidence, identity, polls
from hub.briefings.jobs import setup as scheduler_setup
from hub.conferences import manager as conferences
from hub.control import http as api
from hub.control.registry import AgentRegistry
from hub.db import create_db_engine, migrate
from hub.events import EventBus
from hub.keys import CATALOGS, ENGINE, EVENTS, REGISTRY, SETTINGS
from hub.linkhealth.intake import setup as linkhealth_setup
from hub.metrics import Metrics
from hub.settings import Settings
from hub.ui import setup as views_setup
from hub.updates import service as updates
from hub.web import pages
from hub.web.auth import csrf_middleware, security_headers_middleware, session_key
from hub.web.i18n import Catalogs

log = logging.getLogger("hub.app")

# Each feature module exposes setup(app): routes, handlers and cleanup_ctx entries.
FEATURES: list[Callable[[web.Application], None]] = [
    api.setup,
    pages.setup,
    linkhealth_setup,  # probes' UDP echo, SNMP, link history, alarms (issue 5)
    conferences.setup,  # live conferences, floor, agenda, media worker, signalling (issue 3)
    scheduler_setup,  # briefing series, timeline jobs, invitations (issue 4)
    views_setup,  # control-room pages: schedule, conference, district, reports, admin (issue 6)
    updates.setup,  # agent releases, rollout waves, agent log uploads (issue 7)
    identity.setup, polls.setup, evidence.setup,  # identity/roll call, polls, evidence package (issue 16)
]


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    engine = app[ENGINE]
    await asyncio.to_thread(migrate, engine)
    from hub.inventory.loader import load_inventory, sync_inventory

    inventory = await asyncio.to_thread(load_inventory, settings.inventory_path)
    result = await asyncio.to_thread(sync_inventory, engine, inventory)
    log.info("inventory %s: %s", settings.inventory_path, result)
    yield
    engine.dispose()


async def _registry(app: web.Application) -> AsyncIterator[None]:
    registry = app[REGISTRY]
    await asyncio.to_thread(registry.load_sites)
    tasks = [asyncio.create_task(registry.watchdog()), asyncio.create_task(registry.flush_last_seen())]
    yield
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await registry.flush_once()


async def _say_goodbye(app: web.Application) -> None:
    # on_shutdown runs before aiohttp waits for open handlers: close the
    # agents' sockets now or a graceful stop would wait for them.
    await app[REGISTRY].close_all()


def create_app(settings: Settings) -> web.Application:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    storage = EncryptedCookieStorage(
        session_key(settings),
        cookie_name="salaklang_session",
        max_age=settings.session_max_age_s,
        httponly=True,
        samesite="Lax",
        secure=settings.secure_cookies,
    )
    app = web.Application(
        middlewares=[
            security_headers_middleware,
            session_middleware(storage),
            pages.language_middleware,
            csrf_middleware,
        ],
        client_max_size=2 * 1024 * 1024,
    )
    app[SETTINGS] = settings
    app[CATALOGS] = Catalogs()
    app[EVENTS] = EventBus()
    metrics = Metrics()
    app[api.METRICS_KEY] = metrics
    app[ENGINE] = create_db_engine(settings.effective_database_url)
    registry = AgentRegistry(settings, app[ENGINE], app[EVENTS], metrics)
    app[REGISTRY] = registry
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_registry)
    app.on_shutdown.append(_say_goodbye)
    app.router.add_get("/agent/ws", registry.handle)
    for feature in FEATURES:
        feature(app)
    return app
