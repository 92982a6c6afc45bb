"""Packetised once: two real aiortc peers receive the same shared RTP payloads and decode them."""

from __future__ import annotations

import asyncio
import contextlib

import av
import numpy as np
from aiortc import RTCPeerConnection
from aiortc.codecs.h264 import H264Encoder
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from hub.media.encoder import (
    VIDEO_CLOCK,
    PackedFrame,
    PacketFanout,
    SharedVideoEncoder,
    h264_codecs,
    share_packetisation,
)
from tests.hub.media.mediakit import feed_program, wait_for


def _program(i: int) -> np.ndarray:
    rgb = np.zeros((180, 320, 3), dtype=np.uint8)
    rgb[:] = (30, 200, 30)
    rgb[60:120, (i * 4) % 280 : (i * 4) % 280 + 40] = 250
    return rgb


def test_packed_like_aiortc() -> None:
    """The shared split is byte for byte what aiortc's own sender would send."""
    enc = SharedVideoEncoder(320, 180, 25, kbps=300)
    for i in range(3):
        for packet in enc.encode(_program(i), i * VIDEO_CLOCK // 25):
            packed = PackedFrame.video(packet)
            payloads, timestamp = H264Encoder().pack(packet)
            assert packed.payloads == payloads and packed.timestamp == timestamp
            assert packed.keyframe == (i == 0)


async def test_two_receivers_decode_the_same_payloads() -> None:
    enc = SharedVideoEncoder(320, 180, 25, kbps=300)
    fanout = PacketFanout("video", on_join=enc.gate.request)
    senders, receivers = [], []
    decoded = [0, 0]
    last: list[np.ndarray | None] = [None, None]
    tasks: list[asyncio.Task[None]] = []

    async def consume(n: int, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            while True:
                frame = await track.recv()
                assert isinstance(frame, av.VideoFrame)
                decoded[n] += 1
                last[n] = frame.to_ndarray(format="rgb24")

    try:
        for n in range(2):
            hub, site = RTCPeerConnection(), RTCPeerConnection()
            senders.append(hub)
            receivers.append(site)
            track = fanout.track()
            tr = hub.addTransceiver(track, direction="sendonly")
            tr.setCodecPreferences(h264_codecs())
            share_packetisation(tr.sender, track)
            site.on("track", lambda t, n=n: tasks.append(asyncio.ensure_future(consume(n, t))))
            await hub.setLocalDescription(await hub.createOffer())
            await site.setRemoteDescription(hub.localDescription)
            await site.setLocalDescription(await site.createAnswer())
            await hub.setRemoteDescription(site.localDescription)
        feeder = asyncio.create_task(feed_program(enc, fanout, _program))
        try:
            assert await wait_for(lambda: min(decoded) >= 10, 15), decoded
        finally:
            feeder.cancel()
        for picture in last:
            assert picture is not None
            assert abs(int(picture[10, 10, 1]) - 200) < 20  # the green program, decoded
        for pc in senders:
            for tr in pc.getTransceivers():
                # aiortc's per-sender encoder was never created: nothing packed per site
                assert tr.sender._RTCRtpSender__encoder is None  # type: ignore[attr-defined]
                assert tr.sender._RTCRtpSender__packet_count > 0  # type: ignore[attr-defined]
    finally:
        for t in tasks:
            t.cancel()
        for pc in senders + receivers:
            await pc.close()
