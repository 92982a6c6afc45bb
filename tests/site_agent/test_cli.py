"""`python -m site_agent ...`: every argument or setting mistake is a plain message and exit 2, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from site_agent.config import AgentConfig

REPO = Path(__file__).resolve().parents[2]


def agent(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SALAKLANG_")}
    clean.pop("DISPLAY", None)  # headless: `run` must not open the tray here
    return subprocess.run(
        [sys.executable, "-m", "site_agent", *args], cwd=REPO, capture_output=True, text=True, timeout=60,
        env={**clean, **env},
    )


def refused(out: subprocess.CompletedProcess[str], *words: str) -> None:
    assert "Traceback" not in out.stderr, out.stderr
    assert out.returncode == 2, (out.returncode, out.stderr)
    for word in words:
        assert word in out.stderr, (word, out.stderr)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("run", "--no-tray", "--log-level", "LOUD"), ("--log-level", "'LOUD' is not a log level")),
        (("tray", "--log-level", "chatty"), ("--log-level", "'chatty' is not a log level")),
        (("run", "--no-tray", "--backoff-cap", "-1"), ("--backoff-cap", "more than 0")),
        (("enroll", "--hub", "salaklang.local", "--code", "ABCDE-23456"), ("--hub", "is not a hub URL")),
        (("autostart", "sometimes"), ("invalid choice",)),
        (("teleport",), ("invalid choice",)),
        ((), ("required",)),
    ],
)
def test_bad_arguments_are_refused_plainly(args: tuple[str, ...], words: tuple[str, ...]) -> None:
    refused(agent(*args), *words)


def test_commands_on_a_pc_not_enrolled_say_how_to_enrol(tmp_path: Path) -> None:
    for command in (("selftest", "--demo"), ("run", "--no-tray")):
        refused(agent("--config-dir", str(tmp_path / "new-pc"), *command), "not enrolled", "site_agent enroll")


def test_a_broken_enrolment_file_is_named(tmp_path: Path) -> None:
    AgentConfig(hub_url="http://127.0.0.1:9", site="UDN07", token="t" * 32, config_dir=tmp_path).save()
    (tmp_path / "agent.json").write_text("{ half a file", encoding="utf-8")
    refused(agent("--config-dir", str(tmp_path), "run", "--no-tray"), "cannot be read", "JSONDecodeError")


def test_a_bad_setting_is_named_by_its_variable(tmp_path: Path) -> None:
    out = agent("--config-dir", str(tmp_path), "selftest", SALAKLANG_SYNTHETIC_DEVICES="perhaps")
    refused(out, "SALAKLANG_SYNTHETIC_DEVICES='perhaps'", "docs/SETTINGS.md")


def test_devices_and_help_still_work() -> None:
    listing = agent("devices")
    assert listing.returncode == 0 and "Traceback" not in listing.stderr, listing.stderr
    help_text = agent("--help")
    assert help_text.returncode == 0
    for command in ("enroll", "run", "tray", "selftest", "devices", "autostart"):
        assert command in help_text.stdout
