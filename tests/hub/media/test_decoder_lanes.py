"""Every district's streams decode in the worker without a thread each (hub.media.decoding): small
pictures and sound where they arrive, larger pictures on a few shared lanes."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import av
import numpy as np
import pytest
from aiortc.codecs import get_capabilities
from aiortc.jitterbuffer import JitterFrame

from hub.conferences.conference import Conference
from hub.media import channel
from hub.media.compositor import Compositor
from hub.media.decoding import INLINE_PIXELS, DecoderLane, Inbox
from hub.media.encoder import SharedVideoEncoder
from tests.hub.media.mediakit import Rig, wait_for

SITES = ["UDN00", "UDN01", "UDN02"]


async def stats(rig: Rig) -> channel.Stats:
    reply = await rig.worker.request(channel.GetStats())
    assert isinstance(reply, channel.Stats)
    return reply


@pytest.mark.slow
async def test_three_districts_decode_on_the_shared_lanes_and_leave_cleanly(rig: Rig) -> None:
    conf = Conference(id=1, title="ทดสอบ", province="UDN00", participants=list(SITES))
    await rig.scene(conf)
    for code in SITES:
        await rig.join(code)

    async def decoding() -> bool:
        s = await stats(rig)
        # pictures from all; sound decoded from the province alone, the one heard (hub.media.audio_gate)
        return all(s.sites.get(c) is not None and s.sites[c].decoded.get("video", 0) >= 10
                   and s.sites[c].audio_in >= 25 for c in SITES) and s.sites["UDN00"].decoded.get("audio", 0) >= 25

    ok = False
    for _ in range(100):
        if ok := await decoding():
            break
        await asyncio.sleep(0.1)
    s = await stats(rig)
    assert ok, s.sites
    # every picture the MCU took in came from a lane
    for code in SITES:
        assert s.sites[code].decoded["video"] >= s.sites[code].frames_in > 0
    assert s.sites["UDN01"].decoded.get("audio", 0) == 0 and s.sites["UDN02"].decoded.get("audio", 0) == 0
    # each district offers its camera and its screen-share stream (hub.media.screen); sound has no lane
    assert sum(n for name, n in s.decoder_lanes.items() if name.startswith("decode-video")) == 6
    assert not any(name.startswith("decode-audio") for name in s.decoder_lanes)
    # the program still reaches a district
    assert await wait_for(lambda: rig.sites["UDN01"].last_video is not None, 5)

    # a district hangs up: its streams leave the lanes and the others keep decoding
    await rig.sites["UDN02"].endpoint.close()
    await rig.worker.request(channel.Leave(site="UDN02"))
    s = await stats(rig)
    assert "UDN02" not in s.sites
    assert sum(s.decoder_lanes.values()) == 6 - 2, s.decoder_lanes
    before = s.sites["UDN00"].decoded["video"]
    await asyncio.sleep(1.0)
    assert (await stats(rig)).sites["UDN00"].decoded["video"] > before


def test_a_tile_keeps_its_scaler_across_frames() -> None:
    """A new SwsContext per frame was most of the render thread's time (BENCHMARKS.md, issue 17)."""
    comp = Compositor(320, 180)
    comp.set_scene([{"x": 0, "y": 0, "w": 640, "h": 720, "site": "A"},
                    {"x": 640, "y": 0, "w": 640, "h": 720, "site": "B"}], {})
    scalers = []
    for i in range(5):
        frames = {site: av.VideoFrame.from_ndarray(np.full((180 * 3 // 2, 320), 40 * i + k, np.uint8),
                                                   format="yuv420p") for k, site in enumerate("AB")}
        yuv = comp.compose(frames)
        assert int(yuv[90, 40]) == 40 * i and int(yuv[90, 200]) == 40 * i + 1  # each tile shows its new frame
        scalers.append(dict(comp._scalers))
    assert len(scalers[0]) == 2 and all(s == scalers[0] for s in scalers)
    assert all(a is b for s in scalers for a, b in zip(s.values(), scalers[0].values(), strict=True))


class CountingLane(DecoderLane):
    def __init__(self, name: str, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(name, loop)
        self.submitted = 0

    def submit(self, inbox: Inbox, task: tuple[Any, Any]) -> None:
        self.submitted += 1
        super().submit(inbox, task)


async def test_a_thumbnail_is_decoded_where_it_arrives_and_a_large_picture_on_a_lane() -> None:
    """Small pictures skip the hand-off to a lane and back; a 720p one goes to a lane, in order."""
    h264 = next(c for c in get_capabilities("video").codecs if c.mimeType.lower() == "video/h264")
    loop = asyncio.get_running_loop()
    for (w, h), on_lane in (((320, 180), False), ((1280, 720), True)):
        assert (w * h > INLINE_PIXELS) is on_lane
        enc = SharedVideoEncoder(w, h, 25, kbps=600, gop_s=1.0)
        packets = [p for i in range(6) for p in enc.encode(np.full((h * 3 // 2, w), 16 + 20 * i, np.uint8), i * 3600)]
        lane = CountingLane("decode-video-test", loop)
        try:
            inbox = Inbox(lane, asyncio.Queue(), threading.Event(), "video")
            got: list[tuple[int, str]] = []

            def on_frame(frame: av.VideoFrame, got: list[tuple[int, str]] = got) -> None:
                got.append((frame.width, threading.current_thread().name))

            inbox.on_frame = on_frame
            for i, p in enumerate(packets):
                inbox.put((h264, JitterFrame(bytes(p), i * 3600)))
            assert await wait_for(lambda: len(got) == len(packets), 5), got  # noqa: B023 (awaited here)
        finally:
            lane.close()
        # delivered on the event loop either way, every frame, at its size
        assert all(width == w and name == threading.current_thread().name for width, name in got)
        # the first frame (size unknown) is decoded where it came; a large stream goes to the lane after it
        assert lane.submitted == (len(packets) - 1 if on_lane else 0), (w, lane.submitted)
        assert inbox.decoded == len(packets)
