"""A real hub on a loopback port, enrolled agent configs and admin API access for the tray tests."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from hub.app import create_app
from hub.control.enrolment import issue_code, redeem_code
from hub.keys import ENGINE
from hub.settings import Settings
from hub.web.auth import create_api_token, create_operator
from site_agent.config import AgentConfig
from tests.conftest import RELEASE_PUBLIC_KEY, private_xvfb

REPO = Path(__file__).resolve().parents[3]


@dataclass
class TrayHub:
    url: str
    app: web.Application
    settings: Settings
    admin_token: str
    tmp: Path

    def enrol_agent(self, code: str) -> AgentConfig:
        engine = self.app[ENGINE]
        one_time, _site = issue_code(engine, code, 3600, "test")
        enrolled = redeem_code(engine, one_time, hostname="test-pc")
        config = AgentConfig(
            hub_url=self.url, site=enrolled.site_code, token=enrolled.token,
            config_dir=self.tmp / f"agent-{code}", name_th=enrolled.name_th, name_en=enrolled.name_en,
            update_public_key=self.settings.update_public_key,  # as the enrolment answer pins it
        )
        config.save()
        return config

    async def api(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.admin_token}", **kwargs.pop("headers", {})}
        async with aiohttp.ClientSession() as http, http.request(
            method, self.url + path, headers=headers, **kwargs
        ) as resp:
            body = await resp.json(content_type=None)
            return resp.status, body


@pytest.fixture
async def tray_hub(tmp_path: Path) -> AsyncIterator[TrayHub]:
    settings = Settings(
        data_dir=tmp_path / "hub", port=0, offline_after_s=15.0, heartbeat_interval_s=1.0,
        agent_package_max_bytes=8 * 1024 * 1024, agent_log_max_bytes=256 * 1024,
        update_public_key=RELEASE_PUBLIC_KEY,
    )
    app = create_app(settings)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    url = f"http://127.0.0.1:{port}"
    engine = app[ENGINE]
    await asyncio.to_thread(create_operator, engine, "admin", "admin-password-1", "admin")
    token = await asyncio.to_thread(create_api_token, engine, "admin", "tests")
    try:
        yield TrayHub(url, app, settings, token, tmp_path)
    finally:
        await runner.cleanup()


@pytest.fixture
def xvfb() -> Iterator[str]:
    """A private X server; yields its DISPLAY."""
    with private_xvfb() as display:
        yield display


def agent_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(extra)
    return env


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


PYTHON = sys.executable
