"""The updates room's runtime: nudging agents when a wave opens, and keeping the latest
self-test each agent pushes.

An agent learns of its update by asking ``/agent/updates/check`` (:mod:`hub.updates.http`);
the hub only hurries that along with an ``update_check`` command to the online districts
of a wave, once when the wave is created already open and once when its opening time
passes (checked each minute).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from hub.control.registry import REGISTRY, AgentOffline
from hub.keys import ENGINE, EVENTS
from hub.models import utcnow
from hub.updates import store
from site_agent import protocol as p

log = logging.getLogger("hub.updates.service")

# Latest self-test each agent pushed (SelfTestReport): the clerk's own runs between readiness checks.
SELFTESTS = web.AppKey("selftests", dict[str, dict[str, Any]])


async def nudge(app: web.Application, codes: list[str]) -> int:
    """Ask online agents of an open wave to check for their update now."""
    registry = app[REGISTRY]
    with contextlib.suppress(AgentOffline):
        return await registry.broadcast(p.UpdateCheck(), codes=codes)
    return 0


async def open_wave_watcher(app: web.Application) -> AsyncIterator[None]:
    """Nudge a wave's online agents when its opening time passes (checked each minute)."""
    engine = app[ENGINE]
    seen: set[int] = set()

    async def loop() -> None:
        # Waves already open at start were handled before; agents check on connect anyway.
        seen.update(w for w, _ in await asyncio.to_thread(store.open_waves, engine, utcnow(), seen))
        while True:
            await asyncio.sleep(60)
            try:
                for wave_id, codes in await asyncio.to_thread(store.open_waves, engine, utcnow(), seen):
                    seen.add(wave_id)
                    await nudge(app, codes)
            except Exception:
                log.exception("wave watcher failed")

    task = asyncio.create_task(loop())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def selftest_intake(app: web.Application) -> Any:
    async def on_report(site: str, msg: Any) -> None:
        entry = {
            "site": site, "ready": msg.ready, "reasons": list(msg.reasons), "checks": list(msg.checks),
            "trigger": msg.trigger, "measured_at": msg.measured_at,
        }
        app[SELFTESTS][site] = entry
        app[EVENTS].publish("selftest", entry)

    return on_report


def setup(app: web.Application) -> None:
    app[SELFTESTS] = {}
    app[REGISTRY].add_message_handler("selftest_report", selftest_intake(app))
    app.cleanup_ctx.append(open_wave_watcher)
