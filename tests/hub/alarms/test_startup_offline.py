"""Alarms a running hub raises on its own: districts that stay away after a hub start."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from hub.alarms import service as alarms
from hub.alarms.keys import ALARMS
from hub.settings import Settings
from tests.conftest import start_hub

pytestmark = pytest.mark.slow


async def test_enrolled_district_absent_after_hub_start_raises_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(alarms, "STARTUP_RECONNECT_S", 1.0)
    settings = Settings(data_dir=tmp_path / "var", port=0, host="127.0.0.1", offline_after_s=0.5)
    hub = await start_hub(settings, tmp_path)
    try:
        await hub.enrol_agent("UDN07")  # enrolled, never connects
        deadline = time.monotonic() + 10
        while not hub.app[ALARMS].list():
            assert time.monotonic() < deadline, "no offline alarm"
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.3)
        raised = hub.app[ALARMS].list()
        assert [(a["site"], a["kind"], a["severity"]) for a in raised] == [("UDN07", "offline", "warning")]
        assert raised[0]["message_th"] == "อำเภอทุ่งฝน ขาดการติดต่อ"
        assert raised[0]["message_en"] == "Thung Fon district is offline"
        assert raised[0]["detail"] == {"after_hub_start": True}
    finally:
        await hub.runner.cleanup()
