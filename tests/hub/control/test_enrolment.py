"""Enrolment: one-time codes from the CLI and the API, exchanged by the real agent command."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlmodel import select

from hub import audit
from hub.control.store import EnrolmentCode
from hub.db import session_scope
from hub.models import utcnow
from site_agent.config import NotEnrolled, load_config
from site_agent.enrol import EnrolFailed, enrol
from tests.conftest import REPO, HubHandle, free_port, python_module


async def test_code_is_single_use_and_reuse_is_refused_and_audited(hub: HubHandle, tmp_path: Path) -> None:
    code = hub.issue_code("UDN17")
    config = await enrol(hub.url, code, tmp_path / "a")
    assert config.site == "UDN17" and config.name_th == "นายูง"
    assert load_config(tmp_path / "a").token == config.token
    assert (tmp_path / "a" / "site.token").stat().st_mode & 0o077 == 0  # only the user may read it
    with pytest.raises(EnrolFailed) as info:
        await enrol(hub.url, code, tmp_path / "b")
    assert info.value.reason == "code_used"
    assert "ถูกใช้ไปแล้ว" in info.value.message_th
    with pytest.raises(NotEnrolled):
        load_config(tmp_path / "b")
    refused = audit.recent(hub.engine, action_prefix="enrol.refused")
    assert refused[0].detail["reason"] == "code_used" and refused[0].target == "UDN17"
    assert audit.recent(hub.engine, action_prefix="enrol.ok")[0].target == "UDN17"


async def test_expired_and_unknown_codes_are_refused(hub: HubHandle, tmp_path: Path) -> None:
    code = hub.issue_code("UDN03")
    with session_scope(hub.engine) as session:
        row = session.exec(select(EnrolmentCode)).one()
        row.expires_at = utcnow() - timedelta(seconds=1)
        session.add(row)
    with pytest.raises(EnrolFailed) as expired:
        await enrol(hub.url, code, tmp_path / "x")
    assert expired.value.reason == "code_expired" and "หมดอายุ" in expired.value.message_th
    with pytest.raises(EnrolFailed) as unknown:
        await enrol(hub.url, "ABCDE-FGHJK", tmp_path / "y")
    assert unknown.value.reason == "unknown_code"


async def test_codes_are_case_and_dash_insensitive(hub: HubHandle, tmp_path: Path) -> None:
    code = hub.issue_code("UDN09")
    config = await enrol(hub.url, code.lower().replace("-", " "), tmp_path / "c")
    assert config.site == "UDN09"


async def test_reenrolment_replaces_the_old_token(hub: HubHandle, run_agent: Any) -> None:
    old = await hub.enrol_agent("UDN10")
    new = await hub.enrol_agent("UDN10")
    assert old.token != new.token
    async with run_agent(new):
        assert hub.registry.is_online("UDN10")
    async with run_agent(old, connect=False) as stale:
        await hub.wait_for(lambda: stale.state == "auth_failed", 10)


async def test_admin_api_issues_codes_viewers_cannot(hub: HubHandle, http: aiohttp.ClientSession) -> None:
    url = f"{hub.url}/api/v1/sites/UDN02/enrolment-codes"
    async with http.post(url, headers=hub.auth("viewer")) as resp:
        assert resp.status == 403
    async with http.post(url, headers=hub.auth("admin")) as resp:
        assert resp.status == 201
        body = await resp.json()
    assert re.fullmatch(r"[A-Z2-9]{5}-[A-Z2-9]{5}", body["code"])
    assert body["command"].endswith(body["code"])
    async with http.post(f"{hub.url}/api/v1/sites/NOPE/enrolment-codes", headers=hub.auth()) as resp:
        assert resp.status == 404


async def test_enrol_endpoint_rejects_malformed_bodies(hub: HubHandle, http: aiohttp.ClientSession) -> None:
    async with http.post(f"{hub.url}/api/v1/enrol", data="{not json") as resp:
        assert resp.status == 400
    async with http.post(f"{hub.url}/api/v1/enrol", json={"kode": "x"}) as resp:
        assert resp.status == 400 and (await resp.json())["field"] == "code"


@pytest.mark.slow
def test_cli_enroll_then_agent_enroll_and_run(tmp_path: Path) -> None:
    """The documented flow, as commands: hub enroll → site_agent enroll → site_agent run."""
    port = free_port()
    env = {"SALAKLANG_DATA_DIR": str(tmp_path / "var"), "SALAKLANG_PORT": str(port)}
    made = python_module("hub", "enroll", "UDN17", env=env)
    assert made.returncode == 0, made.stderr
    code = re.search(r"[A-Z2-9]{5}-[A-Z2-9]{5}", made.stdout)
    assert code and "นายูง" in made.stdout

    server = subprocess.Popen([sys.executable, "-m", "hub", "serve"], cwd=REPO,
                              env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    agent: subprocess.Popen[bytes] | None = None
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        hub_url = f"http://127.0.0.1:{port}"
        cfg = str(tmp_path / "agent")
        ok = python_module("site_agent", "--config-dir", cfg, "enroll", "--hub", hub_url, "--code", code.group(0))
        assert ok.returncode == 0 and "ลงทะเบียนสำเร็จ" in ok.stdout, ok.stderr
        again = python_module("site_agent", "--config-dir", cfg + "2", "enroll", "--hub", hub_url, "--code", code.group(0))
        assert again.returncode == 1 and "ถูกใช้ไปแล้ว" in again.stderr
        agent = subprocess.Popen([sys.executable, "-m", "site_agent", "--config-dir", cfg, "run", "--no-tray"],
                                 cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        health: dict[str, Any] = {}
        for _ in range(100):
            health = json.load(urllib.request.urlopen(f"{hub_url}/healthz", timeout=1))
            if health["agents_connected"] == 1:
                break
            time.sleep(0.1)
        assert health["agents_connected"] == 1
    finally:
        if agent:
            agent.send_signal(signal.SIGTERM)
            agent.wait(10)
        server.send_signal(signal.SIGTERM)
        out, _ = server.communicate(timeout=20)
    assert server.returncode == 0, out.decode()[-2000:]
