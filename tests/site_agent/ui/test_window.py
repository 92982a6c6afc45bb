"""The clerk window under Xvfb: open it, press its buttons with the mouse, screenshot it."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import ImageGrab

from hub.control.registry import REGISTRY
from hub.models import utcnow
from site_agent import protocol as p
from tests.site_agent.ui.conftest import REPO, TrayHub, agent_env

pytestmark = pytest.mark.slow
ARTIFACTS = REPO / "test-artifacts"


async def until(pred: Any, timeout: float = 15.0, what: str = "") -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not pred():
        assert asyncio.get_running_loop().time() < deadline, f"timed out: {what}"
        await asyncio.sleep(0.1)


class Screen:
    def __init__(self, display: str, ui_map: Path) -> None:
        self.display = display
        self.ui_map = ui_map

    def rects(self) -> dict[str, list[Any]]:
        try:
            return dict(json.loads(self.ui_map.read_text()))
        except (OSError, ValueError):
            return {}

    def mapped(self, key: str) -> bool:
        r = self.rects().get(key)
        return bool(r and r[4])

    async def click(self, key: str) -> None:
        x, y, w, h, shown = self.rects()[key]
        assert shown, f"button {key} is not on screen"
        await asyncio.to_thread(
            subprocess.run,
            ["xdotool", "mousemove", str(x + w // 2), str(y + h // 2), "click", "1"],
            env={"DISPLAY": self.display}, check=True, timeout=10,
        )

    async def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / name
        img = await asyncio.to_thread(ImageGrab.grab, xdisplay=self.display)
        await asyncio.to_thread(img.save, path)
        return path


async def test_clerk_window_buttons(tray_hub: TrayHub, xvfb: str, tmp_path: Path) -> None:
    registry = tray_hub.app[REGISTRY]
    got: list[Any] = []

    async def record(_site: str, msg: Any) -> None:
        got.append(msg)

    registry.add_message_handler("clerk_request", record)
    registry.add_message_handler("selftest_report", record)
    config = tray_hub.enrol_agent("UDN09")
    ui_map = tmp_path / "ui.json"
    err = tmp_path / "tray.err"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "site_agent", "--config-dir", str(config.config_dir), "tray", "--demo",
        env=agent_env(
            DISPLAY=xvfb, PYSTRAY_BACKEND="dummy", SALAKLANG_UI_MAP=str(ui_map),
            SALAKLANG_AGENT_LOG_DIR=str(tmp_path / "logs"),
        ),
        stdout=asyncio.subprocess.DEVNULL, stderr=err.open("wb"),
    )
    screen = Screen(xvfb, ui_map)
    try:
        await until(lambda: registry.is_online("UDN09") and screen.mapped("selftest"), 20, "window and agent up")
        starts = utcnow() + timedelta(minutes=8)
        await registry.send_command(
            "UDN09",
            p.ClerkState(briefings=[p.BriefingInfo(title_th="ประชุมป้องกันอุบัติเหตุช่วงสงกรานต์",
                                                   title_en="Songkran road-safety briefing",
                                                   starts_at=starts.timestamp())], help_phone="042-211-000"),
        )
        # ทดสอบอุปกรณ์: the tone question appears in the window; the clerk says "heard".
        await screen.click("selftest")
        await until(lambda: screen.mapped("tone_yes"), 20, "tone question")
        await screen.shot("clerk-window-tone-question.png")
        await screen.click("tone_yes")
        await until(lambda: any(m.type == "selftest_report" for m in got), 30, "self-test report at the hub")
        report = next(m for m in got if m.type == "selftest_report")
        outcomes = {c["key"]: c["outcome"] for c in report.checks}
        assert outcomes["camera"] == outcomes["microphone"] == outcomes["speaker"] == "pass", outcomes
        assert outcomes["hub"] == "pass"
        # The inventory's router for this district is not on the test machine: the hub's link-health
        # configuration names it (fail, with advice) or has not arrived yet (skip); never a pass.
        assert outcomes["router"] in ("fail", "skip")
        assert report.ready is False
        await asyncio.sleep(0.5)
        th = await screen.shot("clerk-window-th.png")
        # เข้าร่วมประชุม
        await screen.click("join")
        await until(lambda: any(m.type == "clerk_request" and m.action == "join" for m in got), 10, "join")
        # English, then quit.
        await screen.click("language")
        await asyncio.sleep(0.8)
        en = await screen.shot("clerk-window-en.png")
        assert th.stat().st_size > 10_000 and en.stat().st_size > 10_000
        await screen.click("quit")
        rc = await asyncio.wait_for(proc.wait(), 15)
        assert rc == 0, err.read_text(encoding="utf-8", errors="replace")[-2000:]
        await until(lambda: not registry.is_online("UDN09"), 15, "agent offline after quit")
    finally:
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()


def test_parse_enrolment_inputs() -> None:
    from site_agent.ui.window import parse_enrolment

    assert parse_enrolment(" ABCDE-23456 ", "https://hub.example/") == ("https://hub.example", "ABCDE-23456")
    assert parse_enrolment("https://udon.example/enrol?code=ABCDE-23456", "") == ("https://udon.example", "ABCDE-23456")
    assert parse_enrolment("salaklang://enrol?hub=http://10.0.0.1:8080&code=XY", "") == ("http://10.0.0.1:8080", "XY")


async def test_first_run_enrolment_dialog(tray_hub: TrayHub, xvfb: str, tmp_path: Path) -> None:
    from hub.control.enrolment import issue_code
    from hub.keys import ENGINE

    registry = tray_hub.app[REGISTRY]
    ui_map = tmp_path / "ui.json"
    err = tmp_path / "tray.err"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "site_agent", "--config-dir", str(tmp_path / "fresh-pc"), "tray", "--demo",
        env=agent_env(
            DISPLAY=xvfb, PYSTRAY_BACKEND="dummy", SALAKLANG_UI_MAP=str(ui_map), SALAKLANG_HUB_URL=tray_hub.url,
            SALAKLANG_AGENT_LOG_DIR=str(tmp_path / "logs"),
        ),
        stdout=asyncio.subprocess.DEVNULL, stderr=err.open("wb"),
    )
    screen = Screen(xvfb, ui_map)

    async def type_code(text: str) -> None:
        await screen.click("code")
        await asyncio.to_thread(
            subprocess.run, ["xdotool", "key", "End", *(["BackSpace"] * 30), "type", "--delay", "20", text],
            env={"DISPLAY": xvfb}, check=True, timeout=20,
        )

    try:
        await until(lambda: screen.mapped("enrol"), 20, "enrolment dialog")
        await type_code("WRONG-CODE1")
        await screen.click("enrol")
        await until(lambda: "ไม่ถูกต้อง" in str(screen.rects().get("enrol_message", [""] * 6)[5]), 15, "refusal")
        await screen.shot("enrol-dialog-refused.png")
        one_time, _ = await asyncio.to_thread(issue_code, tray_hub.app[ENGINE], "UDN20", 3600, "test")
        await type_code(one_time)
        await screen.click("enrol")
        await until(lambda: registry.is_online("UDN20"), 20, "the freshly enrolled PC online")
        await until(lambda: screen.mapped("quit"), 20, "clerk window after enrolment")
        await asyncio.sleep(0.5)
        await screen.shot("clerk-window-after-enrol.png")
        await screen.click("quit")
        assert await asyncio.wait_for(proc.wait(), 15) == 0, err.read_text(errors="replace")[-2000:]
    finally:
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()
