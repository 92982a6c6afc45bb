"""Self-test with synthetic devices: each fault gives its own failure line and Thai advice."""

from __future__ import annotations

import asyncio
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from site_agent.clerk.selftest import (
    FixedProber,
    HttpHub,
    PollerRouter,
    SelfTestInputs,
    SnmpRouter,
    SyntheticCamera,
    SyntheticMicrophone,
    SyntheticSpeaker,
    run_selftest,
)
from site_agent.netmon.snmp import SnmpTarget
from tests.site_agent.ui.conftest import free_udp_port


class UpHub:
    async def reachable(self) -> tuple[bool, str]:
        return True, "ok"


class FakeRouter:
    async def sys_uptime(self) -> int:
        return 123400


async def yes(_th: str, _en: str) -> bool | None:
    return True


def inputs(**over: object) -> SelfTestInputs:
    base = dict(
        camera=SyntheticCamera(), microphone=SyntheticMicrophone(), speaker=SyntheticSpeaker(),
        hub=UpHub(), prober=FixedProber([3.0, 4.0, 5.0]), router=FakeRouter(), confirm=yes,
    )
    base.update(over)
    return SelfTestInputs(**base)  # type: ignore[arg-type]


async def test_all_good_is_ready_in_order() -> None:
    report = await run_selftest(inputs())
    assert [c.key for c in report.checks] == ["camera", "microphone", "speaker", "hub", "link", "router"]
    assert report.ready, report.reasons("en")
    assert report.to_result()["ready"] is True


async def test_missing_camera() -> None:
    report = await run_selftest(inputs(camera=None))
    cam = report.checks[0]
    assert cam.outcome == "fail" and not report.ready
    assert "เสียบสาย USB ของกล้อง" in cam.advice_th
    assert report.reasons("th")[0].startswith("✘ กล้อง: ไม่ผ่าน — ")
    # A camera that is there but gives no frames is a different sentence.
    dead = (await run_selftest(inputs(camera=SyntheticCamera(working=False)))).checks[0]
    assert dead.outcome == "fail" and "ปิดโปรแกรมอื่นที่ใช้กล้อง" in dead.advice_th


async def test_silent_mic() -> None:
    levels: list[float] = []
    report = await run_selftest(inputs(microphone=SyntheticMicrophone(silent=True), on_level=levels.append))
    mic = report.checks[1]
    assert mic.outcome == "fail"
    assert "mute" in mic.advice_th and "ไมค์เงียบ" in mic.advice_th
    assert levels and max(levels) == -90.0  # the meter saw the flat line


async def test_headless_speaker_is_skipped_not_passed() -> None:
    report = await run_selftest(inputs(confirm=None))
    spk = report.checks[2]
    assert spk.outcome == "skip" and not report.ready
    assert report.to_result()["ready"] is False
    no = await run_selftest(inputs(confirm=lambda th, en: asyncio.sleep(0, result=False)))
    assert no.checks[2].outcome == "fail" and "เปิดสวิตช์ลำโพง" in no.checks[2].advice_th


async def test_dead_hub_real_socket(unused_tcp_port: int) -> None:
    # Nothing listens on this port: a real connection refusal.
    hub = HttpHub(f"http://127.0.0.1:{unused_tcp_port}", timeout_s=1.0, probe_timeout_s=0.3)
    report = await run_selftest(inputs(hub=hub, prober=hub))
    by = {c.key: c for c in report.checks}
    assert by["hub"].outcome == "fail" and "ติดต่อเครื่องแม่ข่ายของจังหวัดไม่ได้" in by["hub"].advice_th
    assert by["link"].outcome == "fail" and "100%" in by["link"].advice_th


async def test_lossy_link_real_http() -> None:
    """A real HTTP server that leaves every third /healthz unanswered past the probe timeout."""
    count = 0

    async def healthz(_request: web.Request) -> web.Response:
        nonlocal count
        count += 1
        if count % 3 == 0:
            await asyncio.sleep(1.0)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        hub = HttpHub(f"http://127.0.0.1:{port}", probe_timeout_s=0.25)
        report = await run_selftest(inputs(hub=hub, prober=hub, probes=9))
    finally:
        await runner.cleanup()
    by = {c.key: c for c in report.checks}
    assert by["hub"].outcome == "pass"
    assert by["link"].outcome == "fail", by["link"].detail
    assert "loss 33.3 %" in by["link"].detail
    assert "รีสตาร์ทเราเตอร์" in by["link"].advice_th


@pytest.fixture
def snmpd(tmp_path: Path) -> Iterator[int]:
    """Debian's snmpd on a free loopback UDP port, community 'salaklang-test'; yields the port."""
    port = free_udp_port()
    conf = tmp_path / "snmpd.conf"
    conf.write_text(textwrap.dedent(f"""
        agentAddress udp:127.0.0.1:{port}
        rocommunity salaklang-test 127.0.0.1
    """))
    proc = subprocess.Popen(
        ["snmpd", "-f", "-Lo", "-C", "-c", str(conf), "-p", str(tmp_path / "snmpd.pid")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    yield port
    proc.terminate()
    proc.wait(5)


@pytest.mark.slow
async def test_router_by_real_snmpd(snmpd: int) -> None:
    good = SnmpRouter("127.0.0.1", snmpd, "salaklang-test", timeout_s=0.5)
    ticks = None
    for _ in range(20):  # snmpd needs a moment to bind
        try:
            ticks = await good.sys_uptime()
            break
        except Exception:
            await asyncio.sleep(0.2)
    assert ticks is not None and ticks >= 0
    report = await run_selftest(inputs(router=good))
    assert report.checks[-1].outcome == "pass"
    # The link-health poller's target (what the agent really uses) works the same way.
    shared = PollerRouter(SnmpTarget(host="127.0.0.1", port=snmpd, community="salaklang-test", timeout_s=0.5))
    assert (await run_selftest(inputs(router=shared))).checks[-1].outcome == "pass"
    wrong = SnmpRouter("127.0.0.1", snmpd, "wrong-community", timeout_s=0.3)
    bad = (await run_selftest(inputs(router=wrong))).checks[-1]
    assert bad.outcome == "fail" and "เราเตอร์ไม่ตอบ" in bad.advice_th


async def test_passing_devices_are_remembered(tmp_path: Path) -> None:
    from site_agent.clerk.service import ClerkAgent
    from site_agent.client import AgentClient
    from site_agent.config import AgentConfig, load_config

    config = AgentConfig(hub_url="http://127.0.0.1:9", site="UDN03", token="t" * 32, config_dir=tmp_path)
    config.save()

    def factory(confirm: object) -> SelfTestInputs:
        inp = inputs(microphone=SyntheticMicrophone(silent=True))
        inp.extra["devices"] = {"video": "Logitech C920", "audio": "Jabra Speak 510"}
        return inp

    clerk = ClerkAgent(AgentClient(config), inputs_factory=factory, updates_root=tmp_path / "updates")
    await clerk.selftest(confirm=None)
    # The camera passed and is remembered; the silent microphone is not.
    assert load_config(tmp_path).extra["devices"] == {"video": "Logitech C920"}
