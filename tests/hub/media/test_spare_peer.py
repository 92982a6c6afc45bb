"""The worker's spare peer connection (hub.media.spare_peer): gathered before the offer, it
answers real aiortc offers — video first (the bundle's transport was gathered early) or audio
first (gathered at setLocalDescription as before) — and the two ends connect."""

from __future__ import annotations

import asyncio

from aiortc import RTCPeerConnection, RTCSessionDescription

from hub.media.spare_peer import SparePeers
from site_agent.rtc.config import rtc_configuration


async def _connect(offerer: RTCPeerConnection, answerer: RTCPeerConnection) -> None:
    for _ in range(100):
        if offerer.connectionState == answerer.connectionState == "connected":
            return
        await asyncio.sleep(0.1)
    raise AssertionError((offerer.connectionState, answerer.connectionState))


async def test_a_spare_is_gathered_before_it_is_taken_and_answers() -> None:
    spares = SparePeers()
    spares.fill()
    first = spares._ready
    assert first is not None
    await first.gathered
    taken = spares.take()
    assert taken is first
    assert taken.video.sender.transport.transport.iceGatherer.state == "completed"
    assert spares._ready is not None and spares._ready is not first  # the next one is on its way
    pcs: list[RTCPeerConnection] = [taken.pc]
    try:
        for kinds in (("video", "audio"), ("audio", "video")):
            offerer = RTCPeerConnection(rtc_configuration())
            pcs.append(offerer)
            for kind in kinds:
                offerer.addTransceiver(kind, direction="sendrecv")
            await offerer.setLocalDescription(await offerer.createOffer())
            spare = taken if kinds[0] == "video" else spares.take()
            pcs.append(spare.pc)
            await spare.pc.setRemoteDescription(RTCSessionDescription(sdp=offerer.localDescription.sdp, type="offer"))
            await spare.gathered
            await spare.pc.setLocalDescription(await spare.pc.createAnswer())
            assert "a=candidate:" in spare.pc.localDescription.sdp, kinds
            await offerer.setRemoteDescription(spare.pc.localDescription)
            await _connect(offerer, spare.pc)
    finally:
        await spares.close()
        for pc in pcs:
            await pc.close()
    assert spares._ready is None
    spares.fill()
    assert spares._ready is None  # closed: no more spares
