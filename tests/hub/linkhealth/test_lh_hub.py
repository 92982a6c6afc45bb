"""End to end: a real hub, a real enrolled agent probing the hub's UDP echo and polling a
real snmpd, the JSON API, events, alarms delivered to a real webhook and a real SMTP server."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from sqlmodel import select

from hub.alarms.keys import ALARMS
from hub.db import session_scope
from hub.keys import EVENTS
from hub.linkhealth.keys import LINKHEALTH
from hub.models import AuditEvent, Link, Site
from hub.settings import Settings
from site_agent.clerk.service import ClerkAgent, install_clerk
from site_agent.client import AgentClient
from site_agent.config import AgentConfig
from site_agent.netmon.probe import attach_link_health
from site_agent.netmon.thresholds import Thresholds
from tests.conftest import HubHandle, free_port
from tests.hub.linkhealth.conftest import COMMUNITY, Snmpd

pytestmark = pytest.mark.slow

SITE = "UDN01"
LO_INDEX = int(Path("/sys/class/net/lo/ifindex").read_text())


class Webhook:
    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.url = ""


@pytest.fixture
async def webhook() -> AsyncIterator[Webhook]:
    hook = Webhook()

    async def receive(request: web.Request) -> web.Response:
        hook.posts.append(await request.json())
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/alarm", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    hook.url = f"http://127.0.0.1:{runner.addresses[0][1]}/alarm"
    yield hook
    await runner.cleanup()


class MailSink:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append(msg)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[MailSink, int]]:
    sink = MailSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


@pytest.fixture
def settings(tmp_path: Path, webhook: Webhook, smtp: tuple[MailSink, int]) -> Settings:
    return Settings(
        data_dir=tmp_path / "var", port=0, host="127.0.0.1",
        heartbeat_interval_s=0.5, offline_after_s=2.0,
        linkhealth_step_s=1.0, linkhealth_probes_per_step=10, linkhealth_tmax_ms=200,
        linkhealth_snmp_interval_s=1.0,
        alarms_webhook_url=webhook.url, alarms_email_to="noc@udonthani.example",
        smtp_host="127.0.0.1", smtp_port=smtp[1],
    )


async def wait_for(predicate: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


CLERKS: dict[str, ClerkAgent] = {}


@contextlib.asynccontextmanager
async def agent(config: AgentConfig) -> AsyncIterator[AgentClient]:
    client = AgentClient(config, backoff_base=0.1, backoff_cap=1.0)
    attach_link_health(client)
    CLERKS[config.site] = install_clerk(client, demo=True)
    task = asyncio.create_task(client.run())
    try:
        await client.wait_connected(timeout=10)
        yield client
    finally:
        client.stop()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(task, 5)


async def get(http: aiohttp.ClientSession, hub: HubHandle, path: str, role: str = "viewer") -> Any:
    async with http.get(hub.url + path, headers=hub.auth(role)) as resp:
        assert resp.status == 200, (path, resp.status, await resp.text())
        return await resp.json()


async def test_link_health_end_to_end(
    hub: HubHandle, snmpd: Snmpd, webhook: Webhook, smtp: tuple[MailSink, int],
    http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch,
) -> None:
    mail, _ = smtp
    # The district "router" is the real snmpd; the inventory names the env var with the community.
    monkeypatch.setenv("LH_TEST_COMMUNITY", COMMUNITY)

    def point_router() -> None:
        with session_scope(hub.engine) as session:
            link = session.exec(select(Link).join(Site, Site.id == Link.site_id).where(Site.code == SITE)).one()  # type: ignore[arg-type]
            link.snmp_host, link.snmp_port, link.snmp_version = "127.0.0.1", snmpd.port, "2c"
            link.snmp_if_index, link.snmp_community_env = LO_INDEX, "LH_TEST_COMMUNITY"
            session.add(link)

    await asyncio.to_thread(point_router)
    lh = hub.app[LINKHEALTH]
    events = hub.app[EVENTS].subscribe()
    config = await hub.enrol_agent(SITE)

    async with agent(config):
        # Probes over the real UDP echo → green; SNMP twice → a rate and utilisation.
        await wait_for(lambda: lh.live[SITE].probe is not None and lh.live[SITE].status == "green")
        await wait_for(lambda: (lh.live[SITE].snmp or {}).get("in_bps") is not None)
        live = await get(http, hub, f"/api/v1/sites/{SITE}/link")
        assert live["status"] == "green" and live["online"] is True
        probe = live["probe"]
        assert probe["source"] == "probe" and probe["probes"] == 10 and probe["tmax_ms"] == 200
        assert probe["loss_pct"] == 0 and 0 < probe["rtt_ms_median"] < 50 and probe["jitter_ms"] is not None
        snmp = live["snmp"]
        assert snmp["state"] == "ok" and snmp["oper_status_name"] == "up"
        assert snmp["util_down_pct"] == pytest.approx(snmp["in_bps"] / 200e6 * 100)
        assert live["plan_down_mbps"] == 200 and live["plan_up_mbps"] == 80

        # Thresholds are settings; tighten them so loopback RTT is "red".
        lh.thresholds = Thresholds(rtt_amber_ms=0.000001, rtt_red_ms=0.000002)
        await wait_for(lambda: lh.live[SITE].status == "red")
        # The district's own tray hears of it: amber icon, "link degraded" notice.
        await wait_for(lambda: CLERKS[SITE].state.link == "degraded")
        await wait_for(lambda: len(webhook.posts) >= 1 and len(mail.messages) >= 1)
        alarms = await get(http, hub, "/api/v1/alarms")
        red = [a for a in alarms if a["kind"] == "red" and a["site"] == SITE]
        assert len(red) == 1 and red[0]["severity"] == "warning"
        assert red[0]["message_th"].startswith("ลิงก์อำเภอ") and "red" in red[0]["message_en"]
        assert webhook.posts[0]["alarm"]["id"] == red[0]["id"]
        assert "[เตือน/WARNING]" in str(mail.messages[0]["Subject"])
        assert mail.messages[0]["To"] == "noc@udonthani.example"

        # Acknowledge: viewers may not, operators may; audited.
        ack_url = f"{hub.url}/api/v1/alarms/{red[0]['id']}/ack"
        async with http.post(ack_url, headers=hub.auth("viewer")) as resp:
            assert resp.status == 403
        async with http.post(ack_url, headers=hub.auth("operator")) as resp:
            assert resp.status == 200
            acked = await resp.json()
        assert acked["acknowledged_by"] == "operator" and acked["acknowledged_at"]
        async with http.post(f"{hub.url}/api/v1/alarms/999999/ack", headers=hub.auth("operator")) as resp:
            assert resp.status == 404

        def audit_rows() -> list[AuditEvent]:
            with session_scope(hub.engine) as session:
                return list(session.exec(select(AuditEvent).where(AuditEvent.action == "alarm.ack")))

        rows = await asyncio.to_thread(audit_rows)
        assert [(r.actor, r.ok) for r in rows] == [("operator:operator", True), ("operator:operator", False)]

        # Back to normal thresholds: recovered, the red alarm clears.
        lh.thresholds = Thresholds()
        await wait_for(lambda: lh.live[SITE].status == "green")
        await wait_for(lambda: CLERKS[SITE].state.link == "ok")
        await wait_for(lambda: any(a["cleared_at"] for a in lh_alarms(hub) if a["kind"] == "red"))

        history = await get(http, hub, f"/api/v1/sites/{SITE}/link/history?range=24h")
        assert history["bucket_s"] == 300 and history["tmax_ms"] == 200
        bucket = history["buckets"][-1]
        assert bucket["samples"] >= 3 and bucket["probes_sent"] == bucket["samples"] * 10
        assert bucket["rtt_min_ms"] <= bucket["rtt_median_ms"] <= bucket["rtt_max_ms"]
        week = await get(http, hub, f"/api/v1/sites/{SITE}/link/history?range=7d")
        assert week["bucket_s"] == 3600 and week["buckets"][-1]["samples"] >= 3  # hour in progress, from raw
        async with http.get(f"{hub.url}/api/v1/sites/{SITE}/link/history?range=1y", headers=hub.auth()) as resp:
            assert resp.status == 400
        async with http.get(f"{hub.url}/api/v1/sites/NOPE/link", headers=hub.auth()) as resp:
            assert resp.status == 404
        async with http.get(f"{hub.url}/api/v1/sites/{SITE}/link") as resp:
            assert resp.status == 401

        # A briefing in 20 minutes: going offline now is critical.
        briefing = datetime.now().astimezone() + timedelta(minutes=20)
        hub.app[ALARMS].set_briefing_lookup(lambda code, now: briefing if code == SITE else None)

    await wait_for(lambda: any(a["kind"] == "offline" for a in lh_alarms(hub)), timeout=10)
    offline = next(a for a in lh_alarms(hub) if a["kind"] == "offline")
    assert offline["severity"] == "critical"
    assert "ก่อนการประชุมเวลา" in offline["message_th"] and "briefing" in offline["message_en"]
    await wait_for(lambda: any(p["alarm"]["kind"] == "offline" for p in webhook.posts))
    await wait_for(lambda: any("CRITICAL" in str(m["Subject"]) for m in mail.messages))

    kinds = [e["kind"] for e in await get(http, hub, f"/api/v1/sites/{SITE}/events")]
    for kind in ("went_red", "recovered", "offline", "online"):
        assert kind in kinds, kinds
    # Live updates went out on the control-room bus.
    published = []
    while not events.queue.empty():
        published.append(json.loads(events.queue.get_nowait())["kind"])
    assert {"link", "alarm", "link_event"} <= set(published)


def lh_alarms(hub: HubHandle) -> list[dict[str, Any]]:
    return hub.app[ALARMS].list()
