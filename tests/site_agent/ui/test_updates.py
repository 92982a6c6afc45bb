"""Updates in waves, end to end: a real hub, real supervised agent processes, real wheels."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from packaging.version import Version

import site_agent
from hub.control.registry import REGISTRY
from hub.keys import SETTINGS
from hub.models import utcnow
from hub.updates.store import packages_dir
from site_agent import protocol
from site_agent.updater import load_state
from tests.conftest import sign
from tests.site_agent.ui.conftest import REPO, TrayHub, agent_env

pytestmark = pytest.mark.slow
BASE = Version(site_agent.__version__)


def bump(n: int) -> str:
    return f"{BASE.major}.{BASE.minor}.{BASE.micro + n}"


def build_wheel(tmp: Path, version: str, broken: bool = False) -> Path:
    """A wheel of this checkout with ``version`` (and, if ``broken``, an agent that cannot start)."""
    src = tmp / f"src-{version}"
    for name in ("hub", "site_agent"):
        shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("templates", "inventory"):
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name)
        else:
            (src / name).mkdir(parents=True)
            (src / name / ".keep").write_text("")
    (src / "README.md").write_text("salaklang test build\n")
    pyproject = (REPO / "pyproject.toml").read_text()
    (src / "pyproject.toml").write_text(re.sub(r'(?m)^version = ".*"$', f'version = "{version}"', pyproject, count=1))
    init = src / "site_agent" / "__init__.py"
    text = re.sub(r'__version__ = ".*"', f'__version__ = "{version}"', init.read_text())
    if broken:
        text += '\nraise RuntimeError("this build is broken on purpose")\n'
    init.write_text(text)
    out = tmp / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(out), str(src)],
        check=True, timeout=120,
    )
    return next(out.glob(f"salaklang-{version}-*.whl"))


async def publish(hub: TrayHub, wheel: Path, version: str) -> dict[str, object]:
    form = aiohttp.FormData()
    data = await asyncio.to_thread(wheel.read_bytes)
    form.add_field("version", version)
    form.add_field("signature", sign(data))  # the province's signature, made on its signing PC
    form.add_field("file", data, filename=wheel.name, content_type="application/octet-stream")
    status, body = await hub.api("POST", "/api/v1/agent-versions", data=form)
    assert status == 201, body
    return body


async def wave(hub: TrayHub, number: int, release: str, sites: list[str], opens_in: timedelta) -> None:
    status, body = await hub.api(
        "POST", "/api/v1/agent-waves",
        json={"release": release, "number": number, "opens_at": (utcnow() + opens_in).isoformat(), "sites": sites},
    )
    assert status == 201, body


async def wait_for(pred, timeout: float = 30.0, what: str = "") -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not pred():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


@pytest.fixture
def supervisors() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def start_supervised(hub: TrayHub, code: str, procs: list[subprocess.Popen[bytes]]) -> Path:
    config = hub.enrol_agent(code)
    root = config.config_dir / "updates"
    log = (hub.tmp / f"{code}.log").open("wb")
    procs.append(
        subprocess.Popen(
            [sys.executable, "-m", "site_agent.updater", "supervise", "--root", str(root), "--probation", "20",
             "--", "site_agent.clerk.service", "--config-dir", str(config.config_dir), "--update-check-s", "3600"],
            env=agent_env(SALAKLANG_AGENT_LOG_DIR=str(hub.tmp / f"logs-{code}")),
            stdout=log, stderr=subprocess.STDOUT,
        )
    )
    return root


async def test_waves_update_reject_defer_and_roll_back(
    tray_hub: TrayHub, tmp_path: Path, supervisors: list[subprocess.Popen[bytes]]
) -> None:
    registry = tray_hub.app[REGISTRY]
    v1, v2, v3 = bump(1), bump(2), bump(3)
    good = await asyncio.to_thread(build_wheel, tmp_path, v1)
    broken = await asyncio.to_thread(build_wheel, tmp_path, v3, True)
    root1 = start_supervised(tray_hub, "UDN01", supervisors)
    start_supervised(tray_hub, "UDN02", supervisors)
    await wait_for(lambda: registry.is_online("UDN01") and registry.is_online("UDN02"), 30, "agents online")
    assert registry.live["UDN01"].agent_version == str(BASE)

    # Wave 1 (UDN01) opens now, wave 2 (UDN02) tomorrow.
    await publish(tray_hub, good, v1)
    await wave(tray_hub, 1, v1, ["UDN01"], timedelta(minutes=-1))
    await wave(tray_hub, 2, v1, ["UDN02"], timedelta(days=1))
    await wait_for(lambda: registry.live["UDN01"].agent_version == v1 and registry.is_online("UDN01"), 45,
                   "UDN01 on the new version")
    assert load_state(root1).current == v1
    outcome = await registry.send_command("UDN02", protocol.UpdateCheck(), timeout=20)
    assert outcome.outcome == "up_to_date", outcome
    assert registry.live["UDN02"].agent_version == str(BASE)
    # The control room's progress view counts the version each agent reported at hello
    # (written to the database just after the hello, hence the short wait).
    progress: list[tuple[int, bool, int, int]] = []
    for _ in range(50):
        status, waves = await tray_hub.api("GET", "/api/v1/agent-waves")
        assert status == 200
        progress = [(w["number"], w["open"], w["updated"], w["total"]) for w in waves]
        if progress[0][2] == 1:
            break
        await asyncio.sleep(0.1)
    assert progress == [(1, True, 1, 1), (2, False, 0, 1)]
    assert waves[0]["sites"][0]["code"] == "UDN01" and waves[0]["sites"][0]["version"] == v1

    # A release whose stored package got corrupted; UDN02's wave for it opens now.
    await publish(tray_hub, good, v2)
    stored = next(packages_dir(tray_hub.app[SETTINGS].data_dir).glob(f"{v2}-*.whl"))
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0xFF
    stored.write_bytes(bytes(data))
    await wave(tray_hub, 3, v2, ["UDN02"], timedelta(minutes=-1))

    # No update during a briefing, nor within 30 minutes of one.
    await registry.send_command("UDN02", protocol.ClerkState(in_briefing=True))
    outcome = await registry.send_command("UDN02", protocol.UpdateCheck(), timeout=20)
    assert outcome.outcome == "deferred" and "briefing is running" in outcome.reason
    soon = (utcnow() + timedelta(minutes=20)).timestamp()
    await registry.send_command(
        "UDN02", protocol.ClerkState(in_briefing=False, briefings=[protocol.BriefingInfo(title_th="ประชุม", starts_at=soon)])
    )
    outcome = await registry.send_command("UDN02", protocol.UpdateCheck(), timeout=20)
    assert outcome.outcome == "deferred" and "within 30 minutes" in outcome.reason

    # Briefing over: the corrupted package is refused and the old agent keeps running.
    await registry.send_command("UDN02", protocol.ClerkState(briefings=[]))
    outcome = await registry.send_command("UDN02", protocol.UpdateCheck(), timeout=30)
    assert outcome.outcome == "rejected" and "SHA-256" in outcome.reason, outcome
    await asyncio.sleep(1.0)
    assert registry.is_online("UDN02") and registry.live["UDN02"].agent_version == str(BASE)

    # A broken release is installed, fails to start, and is rolled back to v1.
    await publish(tray_hub, broken, v3)
    await wave(tray_hub, 4, v3, ["UDN01"], timedelta(minutes=-1))
    await wait_for(lambda: v3 in load_state(root1).failed, 60, "rollback of the broken version")
    state = load_state(root1)
    assert state.current == v1 and state.pending is None
    await wait_for(lambda: registry.is_online("UDN01") and registry.live["UDN01"].agent_version == v1, 30,
                   "UDN01 back on v1")
    # And it is not retried.
    outcome = await registry.send_command("UDN01", protocol.UpdateCheck(), timeout=20)
    assert outcome.outcome == "skipped_failed_before"


async def test_upload_limits_and_auth(tray_hub: TrayHub, tmp_path: Path) -> None:
    big = b"x" * (tray_hub.settings.agent_package_max_bytes + 1024)
    form = aiohttp.FormData()
    form.add_field("version", "9.9.9")
    form.add_field("file", big, filename="salaklang-9.9.9-py3-none-any.whl")
    status, body = await tray_hub.api("POST", "/api/v1/agent-versions", data=form)
    assert status == 413 and body["limit"] == tray_hub.settings.agent_package_max_bytes
    # Not a wheel / bad version → 400; no admin token → 401.
    form = aiohttp.FormData()
    form.add_field("version", "not a version")
    form.add_field("file", b"abc", filename="x.whl")
    status, body = await tray_hub.api("POST", "/api/v1/agent-versions", data=form)
    assert status == 400 and "PEP 440" in body["error"]
    async with aiohttp.ClientSession() as http, http.get(tray_hub.url + "/agent/updates/check") as resp:
        assert resp.status == 401
    config = tray_hub.enrol_agent("UDN05")
    other = tray_hub.enrol_agent("UDN06")
    headers = {"X-Salaklang-Token": other.token, "X-Salaklang-Site": config.site}
    async with aiohttp.ClientSession() as http, http.post(
        tray_hub.url + "/agent/logs", data=b"x", headers=headers
    ) as resp:
        assert resp.status == 401  # site B's token cannot speak for site A
    headers["X-Salaklang-Token"] = config.token
    async with aiohttp.ClientSession() as http, http.post(
        tray_hub.url + "/agent/logs", data=b"y" * (tray_hub.settings.agent_log_max_bytes + 1), headers=headers
    ) as resp:
        assert resp.status == 413
