"""Login autostart (XDG on Linux), one instance only, and the `selftest` command line."""

from __future__ import annotations

import asyncio
import configparser
import subprocess
import sys
from pathlib import Path

import pytest

from site_agent.ui import autostart
from site_agent.ui.autostart import SingleInstance
from tests.site_agent.ui.conftest import TrayHub, agent_env


def test_xdg_autostart_roundtrip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert not autostart.is_enabled()
    where = Path(autostart.enable())
    assert where == tmp_path / "autostart" / "salaklang-agent.desktop"
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment,method-assign]
    entry.read(where, encoding="utf-8")
    desktop = entry["Desktop Entry"]
    assert desktop["Type"] == "Application" and desktop["Name[th]"].startswith("ศาลากลาง")
    assert desktop["Exec"].endswith("-m site_agent run") and sys.executable in desktop["Exec"]
    assert autostart.is_enabled()
    autostart.disable()
    assert not autostart.is_enabled()


def test_single_instance_across_processes(tmp_path: Path) -> None:
    lock = SingleInstance(tmp_path)
    assert lock.acquire()
    probe = (
        "import sys; from pathlib import Path; from site_agent.ui.autostart import SingleInstance; "
        f"sys.exit(0 if SingleInstance(Path({str(tmp_path)!r})).acquire() else 3)"
    )
    second = subprocess.run([sys.executable, "-c", probe], env=agent_env(), timeout=30)
    assert second.returncode == 3  # refused while the first one runs
    lock.release()
    third = subprocess.run([sys.executable, "-c", probe], env=agent_env(), timeout=30)
    assert third.returncode == 0


async def test_selftest_command_line(tray_hub: TrayHub) -> None:
    config = tray_hub.enrol_agent("UDN04")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "site_agent", "--config-dir", str(config.config_dir), "selftest", "--demo",
        env=agent_env(), stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    text = out.decode()
    assert "✔ กล้อง: ผ่าน" in text and "✔ ติดต่อจังหวัด: ผ่าน" in text
    # No one at the keyboard: the tone check is skipped, and that is not "ready".
    assert "– ลำโพง: ข้าม" in text and text.strip().endswith("ยังไม่พร้อม")
    assert proc.returncode == 1
