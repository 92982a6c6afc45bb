"""Shared fixtures: a real hub on a loopback port, real enrolled agents.

`hub` starts the application from the factory on 127.0.0.1:<free port>,
with the Udon Thani inventory, an admin account and API tokens for each
role. `run_agent` runs a real AgentClient against it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.app import create_app
from hub.control.enrolment import issue_code
from hub.control.registry import REGISTRY
from hub.db import create_db_engine, migrate
from hub.inventory.loader import load_inventory
from hub.inventory.sync import sync_inventory
from hub.keys import ENGINE
from hub.settings import Settings
from hub.web.auth import create_api_token, create_operator
from site_agent.client import AgentClient
from site_agent.config import AgentConfig
from site_agent.enrol import enrol
from site_agent.protocol.signing import public_text, sign_package

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"
PASSWORD = "correct-horse-battery"
# The tests' province release key, made fresh per run: hubs under test trust its public
# half (update_public_key), and tests sign the wheels they publish with it.
RELEASE_KEY = Ed25519PrivateKey.generate()
RELEASE_PUBLIC_KEY = public_text(RELEASE_KEY)


def sign(data: bytes) -> str:
    """The province's signature of an agent wheel (what the signing PC would produce)."""
    return sign_package(data, RELEASE_KEY)


@contextlib.contextmanager
def private_xvfb(screen: str = "1024x768x24") -> Iterator[str]:
    """A private X server; yields its DISPLAY. Xvfb picks a free display number itself
    (-displayfd), so parallel test processes never race for the same one."""
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", screen, "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, pass_fds=(write_fd,),
    )
    os.close(write_fd)
    try:
        with os.fdopen(read_fd, "rb") as pipe:
            number = pipe.readline().strip()  # written once the server accepts connections
        if not number:
            raise RuntimeError("Xvfb did not start")
        yield f":{int(number)}"
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var", port=0, host="127.0.0.1", update_public_key=RELEASE_PUBLIC_KEY)


@pytest.fixture
def engine(settings: Settings) -> Iterator[sa.Engine]:
    eng = create_db_engine(settings.effective_database_url)
    migrate(eng)
    sync_inventory(eng, load_inventory(settings.inventory_path))
    yield eng
    eng.dispose()


@dataclass
class HubHandle:
    app: web.Application
    runner: web.AppRunner
    settings: Settings
    url: str
    engine: sa.Engine
    tmp: Path
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def admin_token(self) -> str:
        return self.tokens["admin"]

    def auth(self, role: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def issue_code(self, site: str, ttl_s: int = 3600) -> str:
        code, _ = issue_code(self.engine, site, ttl_s, "test")
        return code

    async def enrol_agent(self, site: str) -> AgentConfig:
        code = await asyncio.to_thread(self.issue_code, site)
        return await enrol(self.url, code, self.tmp / "agents" / site)

    @property
    def registry(self) -> Any:
        return self.app[REGISTRY]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError("condition not met in time")
            await asyncio.sleep(0.05)


async def start_hub(settings: Settings, tmp: Path) -> HubHandle:
    app = create_app(settings)
    runner = web.AppRunner(app, shutdown_timeout=3)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    port = runner.addresses[0][1]
    url = f"http://127.0.0.1:{port}"
    settings.public_url = url

    handle = HubHandle(app, runner, settings, url, app[ENGINE], tmp)
    return handle


def _ensure_accounts(handle: HubHandle) -> None:
    for role in ("admin", "operator", "viewer"):
        with contextlib.suppress(Exception):
            create_operator(handle.engine, role, PASSWORD, role)
        handle.tokens[role] = create_api_token(handle.engine, role, "tests")


@pytest.fixture
async def hub(settings: Settings, tmp_path: Path) -> AsyncIterator[HubHandle]:
    handle = await start_hub(settings, tmp_path)
    await asyncio.to_thread(_ensure_accounts, handle)
    yield handle
    await handle.runner.cleanup()


@pytest.fixture
def run_agent() -> Callable[..., contextlib.AbstractAsyncContextManager[AgentClient]]:
    @contextlib.asynccontextmanager
    async def _run(config: AgentConfig, connect: bool = True, **kwargs: Any) -> AsyncIterator[AgentClient]:
        kwargs.setdefault("backoff_base", 0.1)
        kwargs.setdefault("backoff_cap", 1.0)
        client = AgentClient(config, **kwargs)
        task = asyncio.create_task(client.run())
        try:
            if connect:
                await client.wait_connected(timeout=10)
            yield client
        finally:
            client.stop()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 5)

    return _run


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    # unsafe=True: keep cookies from 127.0.0.1 (aiohttp drops IP-host cookies by default).
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield session


def python_module(*args: str, env: dict[str, str] | None = None, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run `python -m ...` from the repository, the way a user would."""
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, timeout=120,
        env={**os.environ, **(env or {})}, **kwargs,
    )


# What makes a test "realtime": it runs real media (aiortc peers, the media worker) or a real
# browser, and its figures (fps, freezes, recovery times) need the CPU mostly to itself.
# scripts/test runs everything else on both cores first; then, two files at a time (xdist
# --dist loadfile), the fault tests that spend most of their time inside a cut and the browser
# and scheduler tests without media ("paired": light on the CPU); then every other realtime
# test — busy media, fps and sound measured — "alone", one at a time.
# (Not --dist loadgroup: pytest-xdist 3.8 names a grouped test by assigning Item._nodeid, which
# pytest 9 no longer reads, so no group ever reached one worker: each module's demo hub was
# started once per worker.)
_REALTIME_WORDS = ("aiortc", "mediakit", "faultkit", "playwright", "hub.media.client", "MediaEndpoint")
_PAIRED = {
    "test_fault_cuts.py", "test_fault_cuts_full.py", "test_consent.py",  # mostly waiting inside a cut
    "test_media_flapping.py",
    "test_control_room.py", "test_district_chart.py", "test_panel_browser.py", "test_meeting_page.py",
    "test_join_page_browser.py", "test_polls_page_browser.py", "test_timeline.py",  # pages, the scheduler
}
# The paired pass's files, longest first (seconds on a quiet machine, 2026-12-02): xdist hands
# each worker the next file when it has two tests or fewer left, in collection order once
# scripts/test passes --no-loadscope-reorder (its default orders files by test count, which put
# the two single-test cuts last, on one worker: 212 s for a pass that fits in 150).
_PAIRED_FIRST = ("test_fault_cuts_full.py",  # 77 s
                 "test_fault_cuts.py",  # 50 s
                 "test_control_room.py",  # 50 s with its demo hub
                 "test_timeline.py",  # 45 s
                 "test_consent.py")  # 47 s
_realtime_modules: dict[Path, bool] = {}


def _is_realtime(path: Path) -> bool:
    if path not in _realtime_modules:
        text = path.read_text(encoding="utf-8", errors="replace")
        _realtime_modules[path] = any(word in text for word in _REALTIME_WORDS)
    return _realtime_modules[path]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.path))
        if item.get_closest_marker("browser") or "e2e" in path.parts or _is_realtime(path):
            item.add_marker(pytest.mark.realtime)
            if path.name not in _PAIRED:
                item.add_marker(pytest.mark.alone)
    # Stable: tests keep their order within a file, and every xdist worker collects the same list.
    first = {name: i for i, name in enumerate(_PAIRED_FIRST)}
    items.sort(key=lambda item: first.get(item.path.name, len(first)))
