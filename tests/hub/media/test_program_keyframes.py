"""Keyframes: a late joiner, or a site whose first packets are lost, sees the program within 1 s."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from hub.conferences.conference import Conference
from hub.media import channel
from hub.media.encoder import KeyframeGate
from tests.hub.media.mediakit import Rig, wait_for


def test_keyframe_gate_rate_limits_but_never_loses_a_request() -> None:
    now = [100.0]
    gate = KeyframeGate(min_interval=1.0, clock=lambda: now[0])
    assert not gate.take()  # nobody asked
    for _ in range(20):  # twenty sites ask at once: one keyframe
        gate.request()
    assert gate.take() and not gate.take()
    gate.request()
    now[0] += 0.4
    assert not gate.take()  # inside the window: deferred…
    now[0] += 0.6
    assert gate.take()  # …and served when the window opens
    assert (gate.requests, gate.granted) == (21, 2)


async def _time_to_first_frame(site: Any) -> float:
    ep = site.endpoint
    assert await wait_for(lambda: ep.connection_state == "connected", 5)
    connected = time.monotonic()
    assert await wait_for(lambda: ep.first_video_at is not None, 3), "never decoded the program"
    return float(ep.first_video_at - connected)


@pytest.mark.slow
async def test_late_joiner_decodes_within_a_second(rig: Rig) -> None:
    conf = Conference(id=4, title="t", province="UDN00", participants=["UDN00", "UDN01", "UDN02"])
    await rig.scene(conf)
    await rig.join("UDN00")
    await rig.join("UDN01")
    await asyncio.sleep(2.5)  # the program runs; the GOP is 10 s, so no keyframe is due
    late = await rig.join("UDN02")
    took = await _time_to_first_frame(late)
    assert took < 1.0, f"late joiner waited {took:.2f} s for a picture"


@pytest.mark.slow
async def test_first_packets_dropped_recovers_within_a_second(rig: Rig) -> None:
    conf = Conference(id=5, title="t", province="UDN00", participants=["UDN00", "UDN01"])
    await rig.scene(conf)
    await rig.join("UDN00")
    await asyncio.sleep(1.5)
    site = await rig.join("UDN01")
    # Test harness only: lose the first 10 video RTP packets (the joiner's keyframe
    # among them), as a lossy district link would; time from the first packet that
    # gets through to the first decoded picture.
    pc = site.endpoint.pc
    assert pc is not None
    receiver = next(t.receiver for t in pc.getTransceivers() if t.kind == "video")
    original = receiver._handle_rtp_packet
    dropped = [0]
    through: list[float] = []

    async def lossy(packet: Any, arrival_time_ms: int) -> None:
        if dropped[0] < 10:
            dropped[0] += 1
            return
        if not through:
            through.append(time.monotonic())
        await original(packet, arrival_time_ms)

    receiver._handle_rtp_packet = lossy  # type: ignore[method-assign]
    ep = site.endpoint
    assert await wait_for(lambda: ep.first_video_at is not None, 4), "never recovered"
    assert dropped[0] == 10 and through
    took = float(ep.first_video_at - through[0])  # type: ignore[operator]
    assert took < 1.0, f"recovery after loss took {took:.2f} s"
    stats = await rig.worker.request(channel.GetStats())
    assert stats.keyframe_requests >= 3  # joins plus the receiver's PLI
