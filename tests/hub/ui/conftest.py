"""Browser tests: the real `hub demo` (20 real agent processes) driven by Debian's Chromium.

Playwright drives the system executable (/usr/bin/chromium, from
scripts/apt-packages.txt); no browser is downloaded.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from site_agent import protocol as p
from site_agent.client import AgentClient
from site_agent.enrol import enrol
from tests.conftest import REPO, free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
PASSWORD = "correct-horse-battery"
ARTIFACTS = REPO / "test-artifacts" / "ui"


@dataclass
class Demo:
    url: str
    token: str
    proc: subprocess.Popen[str]

    def api(self, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {token or self.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                return exc.code, json.loads(raw)
            except ValueError:
                return exc.code, raw.decode(errors="replace")

    def wait_online(self, count: int = 20, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, sites = self.api("GET", "/api/v1/sites")
            if status == 200 and sum(1 for s in sites if s["online"]) >= count:
                return
            time.sleep(0.3)
        raise AssertionError(f"fewer than {count} districts online after {timeout} s")


def start_demo(tmp: Path, env: dict[str, str] | None = None) -> Demo:
    port = free_port()
    token = "ui-test-token-0123456789"
    proc = subprocess.Popen(
        [sys.executable, "-m", "hub", "demo", "--port", str(port), "--token", token, "--no-media",
         "--data-dir", str(tmp / "demo"), "--password", PASSWORD],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, **(env or {})}, start_new_session=True,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    url = ""
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"demo exited early: {proc.poll()}")
        if line.startswith("Salaklang demo:"):
            url = line.split(":", 1)[1].strip()
            break
    assert url, "demo never printed its URL"
    # Keep reading its output so a full pipe never blocks the demo.
    threading.Thread(target=lambda: [None for _ in proc.stdout or []], daemon=True).start()
    demo = Demo(url, token, proc)
    demo.wait_online()
    return demo


def stop_demo(demo: Demo) -> None:
    demo.proc.send_signal(signal.SIGTERM)
    try:
        demo.proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(demo.proc.pid, signal.SIGKILL)
        demo.proc.wait(timeout=5)


# Fast timings so the tests see offline alarms and link figures within seconds.
DEMO_ENV = {"SALAKLANG_OFFLINE_AFTER_S": "4", "SALAKLANG_HEARTBEAT_INTERVAL_S": "1", "SALAKLANG_LINKHEALTH_STEP_S": "3",
            "SALAKLANG_LINKHEALTH_PROBES_PER_STEP": "5"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    d = start_demo(tmp_path_factory.mktemp("ui"), DEMO_ENV)
    for role in ("operator", "viewer"):
        status, body = d.api("POST", "/api/v1/operators", {"username": role, "password": PASSWORD, "role": role})
        assert status == 201, body
    yield d
    stop_demo(d)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport={"width": 1600, "height": 1000}, locale="th-TH", timezone_id="Asia/Bangkok")
    yield ctx
    ctx.close()


def login(page: Page, demo: Demo, username: str = "admin", path: str = "/") -> None:
    page.goto(demo.url + path)
    page.wait_for_url("**/login**")
    page.locator("#username").fill(username)
    page.locator("#password").fill(PASSWORD)
    page.locator("form button[type=submit]").click()
    page.wait_for_load_state("networkidle")


def shot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def watch_console(page: Page) -> list[str]:
    """Collect console errors and page errors (a CSP violation shows up here)."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


class OwnAgent:
    """One district agent run by the test itself (in a thread with its own loop), so the
    test can make that district ask for the floor the way a clerk's tray does."""

    def __init__(self, demo: Demo, code: str, folder: Path) -> None:
        self.code = code
        self._p = p
        status, body = demo.api("POST", f"/api/v1/demo/agents/{code}/stop")
        assert status == 200, body
        status, body = demo.api("POST", f"/api/v1/sites/{code}/enrolment-codes")
        assert status == 201, body
        self.loop = asyncio.new_event_loop()
        self.client: Any = None
        ready = threading.Event()

        async def main() -> None:
            config = await enrol(demo.url, body["code"], folder / code)
            self.client = AgentClient(config, backoff_base=0.1, backoff_cap=1.0)
            ready.set()
            await self.client.run()

        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(main(),), daemon=True)
        self.thread.start()
        assert ready.wait(20), "own agent did not enrol"

    def request_floor(self) -> None:
        msg = self._p.FloorRequest(action="request")
        asyncio.run_coroutine_threadsafe(self.client.send(msg), self.loop).result(10)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.client.stop)
        self.thread.join(10)
