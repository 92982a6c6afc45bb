"""Every district's streams decode on the worker's few shared lanes (hub.media.decoding), not a thread each."""

from __future__ import annotations

import asyncio

import av
import numpy as np
import pytest

from hub.conferences.conference import Conference
from hub.media import channel
from hub.media.compositor import Compositor
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
        return all(s.sites.get(c) is not None and s.sites[c].decoded.get("video", 0) >= 10
                   and s.sites[c].decoded.get("audio", 0) >= 25 for c in SITES)

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
    # each district offers its camera and its screen-share stream (hub.media.screen)
    assert sum(n for name, n in s.decoder_lanes.items() if name.startswith("decode-video")) == 6
    assert sum(n for name, n in s.decoder_lanes.items() if name.startswith("decode-audio")) == 3
    # the program still reaches a district
    assert await wait_for(lambda: rig.sites["UDN01"].last_video is not None, 5)

    # a district hangs up: its streams leave the lanes and the others keep decoding
    await rig.sites["UDN02"].endpoint.close()
    await rig.worker.request(channel.Leave(site="UDN02"))
    s = await stats(rig)
    assert "UDN02" not in s.sites
    assert sum(s.decoder_lanes.values()) == 9 - 3, s.decoder_lanes
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
