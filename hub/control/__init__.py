"""The control room: one WebSocket per district agent, enrolment, and the sites/commands API.

- :mod:`hub.control.registry`: the agents' sockets, live site state, command round trips;
- :mod:`hub.control.enrolment`: one-time codes and site tokens;
- :mod:`hub.control.store`: the ``agents`` and ``enrolment_codes`` tables;
- :mod:`hub.control.http`: ``/api/v1/sites``, ``/agents``, ``/enrol``, commands.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from hub.control import http
from hub.control.registry import REGISTRY, AgentRegistry
from hub.keys import ENGINE, EVENTS, METRICS, SETTINGS


async def _registry_tasks(app: web.Application) -> AsyncIterator[None]:
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


def setup(app: web.Application) -> None:
    """Create the registry (other rooms plug into it in their setup, so this runs first)."""
    registry = AgentRegistry(app[SETTINGS], app[ENGINE], app[EVENTS], app[METRICS])
    app[REGISTRY] = registry
    app.cleanup_ctx.append(_registry_tasks)
    app.on_shutdown.append(_say_goodbye)
    app.router.add_get("/agent/ws", registry.handle)
    http.setup(app)
