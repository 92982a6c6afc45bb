"""Every tray menu callback, with pystray's dummy backend (no run()), against a real hub."""

from __future__ import annotations

import asyncio
import inspect
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from hub.control.registry import REGISTRY
from hub.keys import SETTINGS
from site_agent import protocol as p
from site_agent.clerk.selftest import (
    HttpHub,
    SelfTestInputs,
    SyntheticCamera,
    SyntheticMicrophone,
    SyntheticSpeaker,
)
from site_agent.clerk.service import ClerkAgent
from site_agent.clerk.state import COLOUR_RGB, Colour
from site_agent.client import AgentClient
from site_agent.ui.tray import TrayController, menu_entries
from tests.site_agent.ui.conftest import TrayHub


class UpRouter:
    async def sys_uptime(self) -> int:
        return 4200


@pytest.fixture
def pystray_dummy(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("PYSTRAY_BACKEND", "dummy")
    import importlib
    import sys

    sys.modules.pop("pystray", None)
    import pystray

    return importlib.reload(pystray)


async def until(pred: Any, timeout: float = 20.0) -> None:
    # Generous: CI runs this beside the media tests on two cores. The failure names the step.
    step = inspect.getframeinfo(sys._getframe(1)).code_context or ["?"]
    deadline = asyncio.get_running_loop().time() + timeout
    while not pred():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for: {step[0].strip()}"
        await asyncio.sleep(0.05)


def pixel(icon: Any) -> tuple[int, int, int]:
    r, g, b, _a = icon.icon.getpixel((32, 32))
    return (r, g, b)


async def test_menu_callbacks_on_a_real_hub(
    tray_hub: TrayHub, pystray_dummy: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = tray_hub.app[REGISTRY]
    got: list[tuple[str, Any]] = []

    async def record(site: str, msg: Any) -> None:
        got.append((site, msg))

    registry.add_message_handler("clerk_request", record)
    registry.add_message_handler("selftest_report", record)

    config = tray_hub.enrol_agent("UDN17")  # นายูง, the farthest district
    client = AgentClient(config, backoff_cap=1.0)

    def inputs(confirm: Any) -> SelfTestInputs:
        hub = HttpHub(config.hub_url)
        return SelfTestInputs(
            camera=SyntheticCamera(), microphone=SyntheticMicrophone(), speaker=SyntheticSpeaker(),
            hub=hub, prober=hub, router=UpRouter(), confirm=confirm, probes=5,
        )

    clerk = ClerkAgent(client, inputs_factory=inputs, update_check_s=3600, updates_root=tmp_path / "updates")
    loop = asyncio.get_running_loop()
    opened: list[bool] = []

    async def heard(_th: str, _en: str) -> bool:
        return True

    def confirm_tone(th: str, en: str) -> Any:
        return asyncio.run_coroutine_threadsafe(heard(th, en), loop)

    ctl = TrayController(clerk, loop, open_window=lambda: opened.append(True), confirm_tone=confirm_tone)
    icon = ctl.make_icon(pystray_dummy)
    assert pixel(icon) == COLOUR_RGB[Colour.GREY]
    runner = asyncio.create_task(client.run())
    try:
        await client.wait_connected(10)
        await until(lambda: pixel(icon) == COLOUR_RGB[Colour.GREEN])
        assert icon.title.startswith("พร้อมแล้ว")

        # The scheduler's reminder becomes today's briefing and a notification with the hub's words.
        soon = time.time() + 300
        await registry.broadcast(p.Reminder(occurrence_id=41, title="ประชุมสงกรานต์", starts_at=soon,
                                            message_th="อีกไม่นานจะเริ่มประชุม “ประชุมสงกรานต์”"), codes=["UDN17"])
        await until(lambda: ("ใกล้เวลาประชุม", "อีกไม่นานจะเริ่มประชุม “ประชุมสงกรานต์”") in ctl.messages)
        assert [b.key for b in clerk.state.briefings] == ["occurrence:41"]
        assert not any(t == "อีก 10 นาทีเริ่มประชุม" for t, _ in ctl.messages)  # the same reminder, once

        items = {e.key: item for e, item in zip(ctl.entries(), icon.menu.items, strict=True)}
        assert [str(i) for i in icon.menu.items][:6] == [
            "เข้าร่วมประชุม", "ยกมือขอพูด", "ทดสอบอุปกรณ์", "สถานะเครือข่าย", "ช่วยเหลือ", "ส่งบันทึกให้จังหวัด",
        ]
        assert str(icon.menu.items[-1]) == "ออก"
        assert not items["hand"].enabled  # no briefing yet: nothing to raise a hand in

        # เข้าร่วมประชุม → the hub receives a join request from this site.
        items["join"](icon)
        await until(lambda: any(m.type == "clerk_request" and m.action == "join" for _, m in got))
        assert got[-1][0] == "UDN17"

        # The province opens the briefing over the conference API: the agent is asked to join,
        # so the icon turns blue, the first item says "leave" and the hand is enabled.
        await registry.send_command("UDN17", p.ClerkState(help_phone="042-000-000"))
        status, conf = await tray_hub.api("POST", "/api/v1/conferences",
                                          json={"sites": ["UDN17", "UDN05"], "layout": "speaker", "title": "ประชุม"})
        assert status == 201, conf
        cid = conf["id"]
        await until(lambda: pixel(icon) == COLOUR_RGB[Colour.BLUE])
        assert str(icon.menu.items[0]) == "ออกจากประชุม" and items["hand"].enabled

        # ยกมือขอพูด → a floor request in the hub's conference; the hub's answer (queued,
        # position 1) shows in the menu; the chair's grant over the API shows too.
        items["hand"](icon)
        await until(lambda: str(icon.menu.items[1]) == "ยกมือแล้ว (ลำดับที่ 1)")
        status, conf = await tray_hub.api("GET", f"/api/v1/conferences/{cid}")
        (request,) = conf["floor"]["requests"]
        assert request["site"] == "UDN17"
        status, _ = await tray_hub.api("POST", f"/api/v1/conferences/{cid}/floor/{request['id']}/grant")
        assert status == 200
        await until(lambda: str(icon.menu.items[1]) == "ได้รับอนุญาตให้พูดแล้ว")
        assert ("จังหวัดให้ท่านพูดได้แล้ว", "ไมโครโฟนเปิดแล้ว เชิญพูดได้") in ctl.messages

        # ทดสอบอุปกรณ์ → the full self-test (tone confirmed) is pushed to the hub.
        items["selftest"](icon)
        await until(lambda: any(m.type == "selftest_report" for _, m in got), 20)
        report = next(m for _, m in got if m.type == "selftest_report")
        assert isinstance(report, p.SelfTestReport)
        assert report.ready, report.reasons
        assert [c["key"] for c in report.checks] == ["camera", "microphone", "speaker", "hub", "link", "router"]
        status, latest = await tray_hub.api("GET", "/api/v1/selftests")
        assert status == 200 and latest["UDN17"]["ready"] is True and latest["UDN17"]["trigger"] == "clerk"

        # สถานะเครือข่าย and ช่วยเหลือ answer locally, with the province's phone.
        items["network"](icon)
        assert "เชื่อมต่อจังหวัด: ได้" in ctl.messages[-1][1]
        items["help"](icon)
        assert "042-000-000" in ctl.messages[-1][1]

        # ส่งบันทึกให้จังหวัด → a file lands in the hub's agent-logs folder for this site.
        logdir = tmp_path / "agent-log"
        logdir.mkdir()
        (logdir / "agent.log").write_text("2026-04-12 08:55 INFO test: กล้องพร้อม\n", encoding="utf-8")
        monkeypatch.setenv("SALAKLANG_AGENT_LOG_DIR", str(logdir))
        items["send_logs"](icon)
        stored = tray_hub.app[SETTINGS].data_dir / "agent-logs" / "UDN17"
        await until(lambda: stored.is_dir() and any(stored.iterdir()))
        await until(lambda: any(m.startswith("ส่งบันทึกให้จังหวัดแล้ว") for _, m in ctl.messages))

        # ออกจากประชุม → leave request; the icon is green again.
        items["join"](icon)
        await until(lambda: any(m.type == "clerk_request" and m.action == "leave" for _, m in got))
        await until(lambda: pixel(icon) == COLOUR_RGB[Colour.GREEN])

        # English is available; the window item opens the window.
        items["language"](icon)
        assert [e.text for e in ctl.entries()][:3] == ["Join briefing", "Raise hand", "Test devices"]
        items["window"](icon)
        assert opened == [True]

        # The hub's own "selftest" command: headless, so the tone is skipped, which is not ready.
        result = await registry.send_command("UDN17", p.SelfTest(), timeout=20)
        assert result.ready is False
        assert any("ลำโพง" in r for r in result.reasons)
        assert [c.outcome for c in result.checks][2] == "skip"

        # ออก → the agent stops and leaves the hub.
        items["quit"](icon)
        await asyncio.wait_for(runner, 10)
        await until(lambda: not registry.is_online("UDN17"))
        assert clerk.quit_requested
    finally:
        client.stop()
        if not runner.done():
            runner.cancel()


def test_menu_entries_pure() -> None:
    from site_agent.clerk.state import UiState

    offline = menu_entries(UiState(), "th", has_window=False)
    assert [e.key for e in offline] == ["join", "hand", "selftest", "network", "help", "send_logs", "language", "quit"]
    assert not offline[0].enabled  # cannot join while not connected
    english = menu_entries(UiState(connected=True), "en")
    assert [e.text for e in english][-2:] == ["Open window", "Quit"] and english[0].enabled
