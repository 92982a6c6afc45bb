"""UDP echo for the agents' link probes: a path that behaves like media (UDP, no retransmission).

Only datagrams that look like our probes are echoed (magic prefix, bounded
size), so the port is no use as a general reflector; an echo is never larger
than its request, so it cannot amplify.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import cast

from aiohttp import web

from hub.keys import SETTINGS
from site_agent.netmon.probe import MAGIC, MAX_PROBE_BYTES

log = logging.getLogger(__name__)


class EchoProtocol(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.echoed = 0
        self.refused = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.transport is None:
            return
        if len(data) > MAX_PROBE_BYTES or not data.startswith(MAGIC):
            self.refused += 1
            return
        self.echoed += 1
        self.transport.sendto(data, addr)

    def error_received(self, exc: Exception) -> None:
        # ICMP errors for vanished agents land here; they are not the server's problem.
        log.debug("udp echo: %s", exc)


async def start_echo(host: str, port: int) -> tuple[asyncio.DatagramTransport, EchoProtocol]:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        EchoProtocol, local_addr=(host, port)
    )
    return transport, protocol


ECHO = web.AppKey("udp_echo", EchoProtocol)


async def _echo_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    if settings.linkhealth_udp_echo_port < 0:
        yield
        return
    transport, protocol = await start_echo(
        settings.linkhealth_udp_echo_host or settings.host, settings.linkhealth_udp_echo_port
    )
    app[ECHO] = protocol
    sockname = transport.get_extra_info("sockname")
    log.info("udp echo for link probes on %s:%s", sockname[0], sockname[1])
    try:
        yield
    finally:
        transport.close()


def bound_port(app: web.Application) -> int | None:
    """The port the echo actually listens on (useful when the setting is 0)."""
    protocol = app.get(ECHO)
    if protocol is None or protocol.transport is None:
        return None
    return int(protocol.transport.get_extra_info("sockname")[1])


def setup(app: web.Application) -> None:
    app.cleanup_ctx.append(_echo_ctx)
