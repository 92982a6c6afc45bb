"""The clerk window's meeting panel under Xvfb: the hub asks, the clerk types and clicks, the hub hears.

A real tray process (``python -m site_agent tray --demo``) on a real hub: the hub sends the
typed meeting commands over the agent's socket; the clerk types names into the window and
presses its buttons with the mouse (xdotool); the hub receives the typed reports.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from hub.control.registry import REGISTRY
from site_agent import protocol as p
from tests.site_agent.ui.conftest import TrayHub, agent_env
from tests.site_agent.ui.test_window import Screen, until

pytestmark = pytest.mark.slow
CID = 41


async def shown(screen: Screen, key: str, what: str) -> None:
    """On screen, and the UI map rewritten after Tk laid the panel out (it grows as parts appear)."""
    await until(lambda: screen.mapped(key), 10, what)
    await asyncio.sleep(0.8)


async def type_text(display: str, text: str) -> None:
    await asyncio.to_thread(subprocess.run, ["xdotool", "type", "--delay", "20", text],
                            env={"DISPLAY": display}, check=True, timeout=20)


async def test_the_meeting_panel(tray_hub: TrayHub, xvfb: str, tmp_path: Path) -> None:
    registry = tray_hub.app[REGISTRY]
    got: list[Any] = []

    async def record(_site: str, msg: Any) -> None:
        got.append(msg)

    for kind in ("identity", "rollcall.answer", "vote", "joincode"):
        registry.add_message_handler(kind, record)
    config = tray_hub.enrol_agent("UDN08")
    ui_map = tmp_path / "ui.json"
    err = tmp_path / "tray.err"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "site_agent", "--config-dir", str(config.config_dir), "tray", "--demo",
        env=agent_env(DISPLAY=xvfb, PYSTRAY_BACKEND="dummy", SALAKLANG_UI_MAP=str(ui_map),
                      SALAKLANG_AGENT_LOG_DIR=str(tmp_path / "logs")),
        stdout=asyncio.subprocess.DEVNULL, stderr=err.open("wb"),
    )
    screen = Screen(xvfb, ui_map)
    try:
        await until(lambda: registry.is_online("UDN08") and screen.mapped("selftest"), 20, "window and agent up")
        assert not screen.mapped("meeting_confirm")  # no briefing: the panel is not shown

        # --- who is in the room --------------------------------------------------------------------
        await registry.send_command("UDN08", p.IdentityPrompt(conference_id=CID, title="ประชุมถนนปลอดภัย"))
        await shown(screen, "person_name_0", "identity form")
        await screen.click("person_name_0")
        await type_text(xvfb, "Somchai Jaidee")
        await screen.click("person_position_0")
        await type_text(xvfb, "District chief")
        await screen.click("meeting_add_person")
        await shown(screen, "person_name_1", "second row")
        await screen.click("person_name_1")
        await type_text(xvfb, "Malee Srisuk")
        await screen.click("meeting_confirm")
        await until(lambda: any(m.type == "identity" for m in got), 10, "identity report at the hub")
        report = next(m for m in got if m.type == "identity")
        assert report.conference_id == CID
        assert [(x.name, x.position) for x in report.people] == [("Somchai Jaidee", "District chief"),
                                                                 ("Malee Srisuk", "")]

        # --- the roll call -------------------------------------------------------------------------
        await registry.send_command("UDN08", p.RollCallStart(conference_id=CID, roll_call_id=5,
                                                             deadline=time.time() + 60, seconds=60))
        await shown(screen, "rollcall_present", "roll-call button")
        await screen.shot("clerk-window-rollcall.png")
        await screen.click("rollcall_present")
        await until(lambda: any(m.type == "rollcall.answer" for m in got), 10, "roll-call answer at the hub")
        assert next(m for m in got if m.type == "rollcall.answer").roll_call_id == 5

        # --- a secret vote -------------------------------------------------------------------------
        await registry.send_command("UDN08", p.PollOpen(conference_id=CID, poll_id=9, question="เห็นชอบหรือไม่",
                                                        options=["เห็นชอบ", "ไม่เห็นชอบ", "งดออกเสียง"],
                                                        ballot="secret"))
        await shown(screen, "vote_option_2", "vote buttons")
        assert not screen.mapped("vote_option_3")
        await screen.shot("clerk-window-meeting.png")
        await screen.click("vote_option_1")
        await until(lambda: any(m.type == "vote" for m in got), 10, "vote at the hub")
        vote = next(m for m in got if m.type == "vote")
        assert (vote.poll_id, vote.option, vote.person) == (9, 1, None)
        await registry.send_command("UDN08", p.MeetingAnswer(conference_id=CID, action="vote", ok=True, ref=9,
                                                             message_th="บันทึกการลงมติแล้ว",
                                                             message_en="Your vote was recorded"))
        await registry.send_command("UDN08", p.PollClosed(conference_id=CID, poll_id=9, counts=[3, 1, 0]))
        await until(lambda: not screen.mapped("vote_option_0"), 10, "closed poll leaves the buttons")

        # --- a confidential briefing: the code from the e-mail -------------------------------------
        await registry.send_command("UDN08", p.JoinRefused(conference_id=CID, reason="second_factor_required",
                                                           message_th="การประชุมลับต้องยืนยันรหัสผ่านอีเมลก่อนเข้าร่วม",
                                                           message_en="needs the code", second_factor=True))
        await shown(screen, "code_request", "code buttons")
        await screen.click("code_request")
        await until(lambda: any(m.type == "joincode" and m.action == "request" for m in got), 10, "code asked for")
        await screen.click("code_entry")
        await type_text(xvfb, "482913")
        await screen.click("code_verify")
        await until(lambda: any(m.type == "joincode" and m.action == "verify" for m in got), 10, "code given")
        assert next(m for m in got if m.type == "joincode" and m.action == "verify").code == "482913"
        await asyncio.sleep(0.3)
        shot = await screen.shot("clerk-window-meeting-code.png")
        assert shot.stat().st_size > 10_000
        await screen.click("quit")
        rc = await asyncio.wait_for(proc.wait(), 15)
        assert rc == 0, err.read_text(encoding="utf-8", errors="replace")[-2000:]
    finally:
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()
