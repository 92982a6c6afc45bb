"""A hub killed with SIGKILL and started again: every agent reconnects by itself."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from hub.control.enrolment import issue_code
from hub.db import create_db_engine, migrate
from hub.inventory.loader import load_inventory
from hub.inventory.sync import sync_inventory
from hub.settings import Settings
from hub.web.auth import create_operator
from tests.conftest import REPO, free_port

SITES = ["UDN01", "UDN02", "UDN03"]


def health(port: int) -> dict[str, object]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as resp:
            return dict(json.load(resp))
    except OSError:
        return {}


def start_hub(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "hub", "serve"], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not health(port):
        assert time.monotonic() < deadline and proc.poll() is None, "hub did not start"
        time.sleep(0.1)
    return proc


def wait_connected(port: int, n: int, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if health(port).get("agents_connected") == n:
            return time.monotonic() - started
        time.sleep(0.1)
    raise AssertionError(f"{n} agents not connected within {timeout} s: {health(port)}")


@pytest.mark.slow
def test_sigkill_and_restart_agents_reconnect(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "SALAKLANG_DATA_DIR": str(tmp_path / "var"), "SALAKLANG_PORT": str(port)}
    settings = Settings(data_dir=tmp_path / "var", port=port)
    engine = create_db_engine(settings.effective_database_url)
    migrate(engine)
    sync_inventory(engine, load_inventory(settings.inventory_path))
    create_operator(engine, "admin", "long-enough-pw", "admin")
    codes = {site: issue_code(engine, site, 3600, "test")[0] for site in SITES}
    engine.dispose()

    hub = start_hub(port, env)
    agents: list[subprocess.Popen[bytes]] = []
    try:
        for site in SITES:
            cfg = str(tmp_path / site)
            enrolled = subprocess.run([sys.executable, "-m", "site_agent", "--config-dir", cfg, "enroll",
                                       "--hub", f"http://127.0.0.1:{port}", "--code", codes[site]],
                                      cwd=REPO, capture_output=True, text=True)
            assert enrolled.returncode == 0, enrolled.stderr
            agents.append(subprocess.Popen([sys.executable, "-m", "site_agent", "--config-dir", cfg, "run",
                                            "--no-tray", "--backoff-cap", "3"], cwd=REPO,
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_connected(port, len(SITES), 30)

        hub.send_signal(signal.SIGKILL)
        hub.wait(10)
        time.sleep(1.0)  # agents notice and start backing off
        hub = start_hub(port, env)
        took = wait_connected(port, len(SITES), 20)
        assert took < 20
        assert all(a.poll() is None for a in agents), "agents must survive a hub crash"

        # And a graceful stop (SIGTERM) exits cleanly with agents told.
        hub.send_signal(signal.SIGTERM)
        assert hub.wait(15) == 0
    finally:
        for proc in [hub, *agents]:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
