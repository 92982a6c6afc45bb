"""Link-health room: the districts' fibre as the agents' probes and the routers' SNMP see it.

``setup(app)`` installs the service (hub.linkhealth.intake), the UDP echo the
probes aim at, the optional hub-side SNMP poller, the maintenance loop
(rollups, retention) and the routes. Alarms listen to it
(``app[LINKHEALTH].add_status_listener``); it imports no other room.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Coroutine
from typing import Any

from aiohttp import web

from hub.control.registry import REGISTRY
from hub.keys import ENGINE, EVENTS, SETTINGS
from hub.linkhealth import http, snmp_poller, store
from hub.linkhealth.classify import CLERK_LINK
from hub.linkhealth.intake import LinkHealth
from hub.linkhealth.keys import LINKHEALTH
from hub.linkhealth.udp_echo import start_echo
from site_agent import protocol as p

__all__ = ["LINKHEALTH", "setup"]

log = logging.getLogger("hub.linkhealth")


async def _echo(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    if settings.linkhealth_udp_echo_port < 0:
        yield
        return
    transport, _protocol = await start_echo(
        settings.linkhealth_udp_echo_host or settings.host, settings.linkhealth_udp_echo_port
    )
    sockname = transport.get_extra_info("sockname")
    app[LINKHEALTH].echo_port = int(sockname[1])
    log.info("udp echo for link probes on %s:%s", sockname[0], sockname[1])
    try:
        yield
    finally:
        app[LINKHEALTH].echo_port = None
        transport.close()


async def _configure_agent(app: web.Application, code: str) -> None:
    args = await asyncio.to_thread(app[LINKHEALTH].agent_config, code)
    try:
        await app[REGISTRY].send_command(code, p.ConfigureLinkHealth.model_validate(args), timeout=10)
    except Exception as exc:  # an old agent without link health answers ok=False; not fatal
        log.info("could not configure link probes on %s: %s", code, exc)


async def _send_clerk_link(app: web.Application, code: str, link: str) -> None:
    try:
        await app[REGISTRY].send_command(code, p.ClerkState.model_validate({"link": link}), timeout=10)
    except Exception as exc:  # an agent without the clerk answers ok=False; not fatal
        log.info("could not tell %s its link is %s: %s", code, link, exc)


async def _service(app: web.Application) -> AsyncIterator[None]:
    lh = app[LINKHEALTH]
    await asyncio.to_thread(lh.load_sites)
    registry = app[REGISTRY]
    registry.add_message_handler("link_report", lh.on_link_report)
    registry.add_message_handler("snmp_report", lh.on_snmp_report)
    tasks: set[asyncio.Task[None]] = set()

    def spawn(coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async def on_connect(code: str, connected: bool) -> None:
        await lh.on_connect(code, connected)
        if connected:
            # Not awaited here: the agent's ack arrives through the loop that called us.
            spawn(_configure_agent(app, code))

    registry.add_connect_listener(on_connect)

    def tell_the_clerk(code: str, old: str, new: str) -> None:
        # The district's tray turns amber and says so in Thai: the clerk learns of a sick
        # link from the icon, not from a phone call after the briefing has started.
        if registry.is_online(code):
            spawn(_send_clerk_link(app, code, CLERK_LINK.get(new, "unknown")))

    lh.add_status_listener(tell_the_clerk)
    maintenance = asyncio.create_task(lh.maintenance_loop())
    settings = app[SETTINGS]
    poller: asyncio.Task[None] | None = None
    if settings.linkhealth_hub_snmp_poll:
        engine = app[ENGINE]
        poller = asyncio.create_task(snmp_poller.run_forever(
            lambda: store.snmp_targets(engine), settings.linkhealth_snmp_interval_s, lh.on_snmp_report))
    try:
        yield
    finally:
        running = [t for t in (maintenance, poller, *tasks) if t is not None]
        for task in running:
            task.cancel()
        for task in running:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def setup(app: web.Application) -> None:
    app[LINKHEALTH] = LinkHealth(app[SETTINGS], app[ENGINE], app[EVENTS].publish)
    app.cleanup_ctx.append(_echo)
    app.cleanup_ctx.append(_service)
    http.setup_routes(app)
