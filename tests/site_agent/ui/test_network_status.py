"""The tray's "network status" shows the control channel's round trip, measured on a real hub."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from site_agent.clerk.service import ClerkAgent
from site_agent.client import AgentClient
from site_agent.ui.tray import TrayController
from tests.site_agent.ui.conftest import TrayHub


async def test_network_status_shows_the_control_round_trip(tray_hub: TrayHub, tmp_path: Path) -> None:
    config = tray_hub.enrol_agent("UDN09")
    client = AgentClient(config, backoff_cap=1.0)
    clerk = ClerkAgent(client, update_check_s=3600, updates_root=tmp_path / "updates")
    ctl = TrayController(clerk, asyncio.get_running_loop())
    runner = asyncio.create_task(client.run())
    try:
        await client.wait_connected(10)
        deadline = asyncio.get_running_loop().time() + 10
        while client.control_rtt_ms() is None:  # the first heartbeat echo (the hub beats every second here)
            assert asyncio.get_running_loop().time() < deadline, "no heartbeat echo from the hub"
            await asyncio.sleep(0.05)
        th = await asyncio.wrap_future(ctl.activate("network"))
        assert "เชื่อมต่อจังหวัด: ได้" in th
        match = re.search(r"เวลาตอบกลับ: (\d+) ms", th)
        assert match is not None, th
        assert int(match.group(1)) == round(client.control_rtt_ms() or -1)
        clerk.lang = "en"
        en = await asyncio.wrap_future(ctl.activate("network"))
        assert re.search(r"Round trip: \d+ ms", en), en
        assert ctl.messages[-1] == ("Network status", en)  # what the clerk sees
    finally:
        client.stop()
        await asyncio.wait_for(runner, 10)
