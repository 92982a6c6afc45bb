"""settings.max_frame_bytes is the hub's limit: raising it lets larger frames through (it did nothing
while the decoder had its own 64 KiB cap), and a frame over it is refused by name."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from site_agent import protocol as p
from tests.conftest import HubHandle


def _report(detail_bytes: int) -> p.SelfTestReport:
    return p.SelfTestReport(ready=True, checks=[{"key": f"c{i}", "detail": "x" * detail_bytes} for i in range(20)],
                            measured_at=time.time())


async def test_the_hub_decodes_up_to_its_own_setting(hub: HubHandle, run_agent: Any) -> None:
    hub.settings.max_frame_bytes = 256 * 1024  # before the agent connects: the socket's cap follows it
    got: list[p.SelfTestReport] = []

    async def record(site: str, msg: Any) -> None:
        got.append(msg)

    hub.registry.add_message_handler("selftest_report", record)
    config = await hub.enrol_agent("UDN15")
    async with run_agent(config) as client:
        big = _report(5000)  # ~100 KB: over the protocol's default, under this hub's setting
        assert p.DEFAULT_MAX_FRAME_BYTES < len(p.encode(big)) < hub.settings.max_frame_bytes
        await client.send(big)
        await hub.wait_for(lambda: len(got) == 1, 10)
        assert got[0] == big

        too_big = _report(14_000)  # ~280 KB: over the setting
        await client.send(too_big)
        await hub.wait_for(lambda: client.last_error is not None, 10)
        assert client.last_error is not None and client.last_error.code == "too_large"
        await asyncio.sleep(0.2)
        assert len(got) == 1 and client.connected  # refused, not dropped
