"""UDP echo for the agents' link probes: a path that behaves like media (UDP, no retransmission).

Only datagrams that look like our probes are echoed (magic prefix, bounded
size), so the port is no use as a general reflector; an echo is never larger
than its request, so it cannot amplify.
"""

from __future__ import annotations

import asyncio
import logging
from typing import cast

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
