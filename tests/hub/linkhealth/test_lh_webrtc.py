"""The live session's own view of the link (RTCP), reported beside the probes."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from typing import Any

import aiohttp
import pytest
from aiortc.stats import RTCInboundRtpStreamStats, RTCRemoteInboundRtpStreamStats

from hub.linkhealth.keys import LINKHEALTH
from site_agent.client import AgentClient
from site_agent.media.endpoint import install
from site_agent.media.stats import WebrtcStatsTracker, report_webrtc
from tests.conftest import HubHandle


def inbound(kind: str, received: int, lost: int, jitter: int) -> RTCInboundRtpStreamStats:
    return RTCInboundRtpStreamStats(
        timestamp=dt.datetime.now(dt.UTC), type="inbound-rtp", id=f"in-{kind}", ssrc=1, kind=kind,
        transportId="t", packetsReceived=received, packetsLost=lost, jitter=jitter,
    )


def remote(rtt_s: float) -> RTCRemoteInboundRtpStreamStats:
    return RTCRemoteInboundRtpStreamStats(
        timestamp=dt.datetime.now(dt.UTC), type="remote-inbound-rtp", id=f"r-{rtt_s}", ssrc=2, kind="audio",
        transportId="t", packetsReceived=0, packetsLost=0, jitter=0, roundTripTime=rtt_s, fractionLost=0.0,
    )


def test_figures_are_per_step_and_in_milliseconds() -> None:
    tracker = WebrtcStatsTracker()
    first = tracker.step([inbound("audio", 95, 5, 480), inbound("video", 900, 0, 9000), remote(0.004), remote(0.006)])
    assert first.packets == 1000 and first.loss_pct == pytest.approx(0.5)
    assert first.jitter_ms == pytest.approx(10.0)  # 480 ticks of 48 kHz audio; video's is not used
    assert first.rtt_ms == pytest.approx(5.0)
    # Next step: only what happened since — 100 more audio packets, none lost; RTCP loss fell (duplicates).
    second = tracker.step([inbound("audio", 195, 4, 96), inbound("video", 900, 0, 9000)])
    assert second.packets == 100 and second.loss_pct == 0.0
    assert second.jitter_ms == pytest.approx(2.0) and second.rtt_ms is None


def test_video_jitter_is_used_when_there_is_no_audio() -> None:
    figures = WebrtcStatsTracker().step([inbound("video", 10, 0, 900)])
    assert figures.jitter_ms == pytest.approx(10.0)


@pytest.mark.slow
async def test_conference_reports_webrtc_figures_to_the_hub(hub: HubHandle, http: aiohttp.ClientSession) -> None:
    config = await hub.enrol_agent("UDN07")
    client = AgentClient(config, backoff_base=0.1, backoff_cap=1.0)
    endpoint = install(client)
    client.add_start_task(lambda c: report_webrtc(c, endpoint, step_s=0.5))
    task = asyncio.create_task(client.run())
    try:
        await client.wait_connected(timeout=10)
        async with http.post(f"{hub.url}/api/v1/conferences", json={"sites": ["UDN07"], "layout": "speaker"},
                             headers=hub.auth("operator")) as resp:
            assert resp.status == 201, await resp.text()
        lh = hub.app[LINKHEALTH]
        deadline = time.monotonic() + 20
        live: dict[str, Any] = {}
        while time.monotonic() < deadline:
            webrtc = lh.live["UDN07"].webrtc if "UDN07" in lh.live else None
            if webrtc and webrtc.get("rtt_ms_median") is not None and webrtc.get("jitter_ms") is not None:
                async with http.get(f"{hub.url}/api/v1/sites/UDN07/link", headers=hub.auth("viewer")) as resp:
                    live = await resp.json()
                break
            await asyncio.sleep(0.2)
        assert live, "no WebRTC link figures reached the hub"
        figures = live["webrtc"]
        assert figures["source"] == "webrtc" and figures["probes"] > 0
        assert figures["loss_pct"] == 0.0  # loopback
        assert 0 < figures["rtt_ms_median"] < 100 and figures["jitter_ms"] >= 0
    finally:
        await endpoint.close()
        client.stop()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(task, 5)
