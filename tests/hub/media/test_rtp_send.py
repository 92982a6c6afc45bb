"""The program's send loop (hub.media.rtp_send) between real aiortc peers: what arrives is what
aiortc's own loop would send, a lost packet comes back by NACK and RTX, the counters hold."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from typing import Any

import av
import numpy as np
from aiortc import RTCPeerConnection
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtp import RtpPacket

from hub.media import rtp_send
from hub.media.encoder import (
    PacketFanout,
    SharedVideoEncoder,
    h264_codecs,
    share_packetisation,
)
from tests.hub.media.mediakit import feed_program, wait_for


def _program(i: int) -> np.ndarray:
    rgb = np.zeros((360, 640, 3), dtype=np.uint8)
    rgb[:] = (30, 200, 30)
    rgb[60:300, (i * 8) % 560 : (i * 8) % 560 + 80] = np.random.default_rng(i).integers(0, 255, (240, 80, 3))
    return rgb


async def test_this_aiortc_has_what_the_loop_uses() -> None:
    pc = RTCPeerConnection()
    try:
        sender = pc.addTransceiver("video").sender
        assert rtp_send.missing(sender) == []
    finally:
        await pc.close()


def test_ntp_now_is_aiortcs_clock() -> None:
    from aiortc import clock

    ours, theirs = rtp_send.ntp_now(), clock.current_ntp_time()
    assert abs(ours - theirs) < (1 << 32) // 100  # within 10 ms, same epoch and scale


async def test_packets_nack_and_counters_between_real_peers() -> None:
    enc = SharedVideoEncoder(640, 360, 25, kbps=1500)
    fanout = PacketFanout("video", on_join=enc.gate.request)
    hub, site = RTCPeerConnection(), RTCPeerConnection()
    track = fanout.track()
    tr = hub.addTransceiver(track, direction="sendonly")
    tr.setCodecPreferences(h264_codecs())
    share_packetisation(tr.sender, track)
    assert "_run_rtp" in vars(tr.sender)  # this sender's own loop, not upstream's

    arrived: list[RtpPacket] = []
    rtx: list[int] = []  # original sequence numbers that came back as RTX
    dropped: list[int] = []
    decoded: list[np.ndarray] = []
    tasks: list[asyncio.Task[None]] = []

    async def consume(t: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            while True:
                frame = await t.recv()
                assert isinstance(frame, av.VideoFrame)
                decoded.append(frame.to_ndarray(format="rgb24"))

    site.on("track", lambda t: tasks.append(asyncio.ensure_future(consume(t))))
    await hub.setLocalDescription(await hub.createOffer())
    await site.setRemoteDescription(hub.localDescription)
    receiver = site.getTransceivers()[0].receiver
    upstream = receiver._handle_rtp_packet

    async def watch(packet: RtpPacket, arrival_time_ms: int) -> None:
        # the district's side: every packet as it arrives, and one lost on the way in
        if packet.ssrc == tr.sender._rtx_ssrc:  # RTX: the original's number, then its payload
            rtx.append(int.from_bytes(packet.payload[:2], "big"))
        elif packet.ssrc == tr.sender._ssrc:
            arrived.append(packet)
            if len(arrived) == 40 and not dropped:
                dropped.append(packet.sequence_number)
                return  # lost: the receiver must ask for it again
        await upstream(packet, arrival_time_ms)

    receiver._handle_rtp_packet = watch  # type: ignore[method-assign]
    await site.setLocalDescription(await site.createAnswer())
    await hub.setRemoteDescription(site.localDescription)

    feeder = asyncio.create_task(feed_program(enc, fanout, _program))
    try:
        assert await wait_for(lambda: len(decoded) >= 30 and bool(dropped) and dropped[0] in rtx, 20), \
            (len(decoded), dropped, rtx[:5])
    finally:
        feeder.cancel()
    await asyncio.sleep(0.2)
    try:
        # a frame's packets: one timestamp, consecutive numbers, the marker on its last one only;
        # each with the sender's mid and an abs-send-time (as aiortc's own loop writes them)
        by_ts: dict[int, list[RtpPacket]] = {}
        for packet in arrived:
            by_ts.setdefault(packet.timestamp, []).append(packet)
            assert packet.extensions.mid == tr.mid
            assert packet.extensions.abs_send_time is not None
        multi = [ps for ps in by_ts.values() if len(ps) > 1]
        assert multi, "no frame of more than one packet: the header reuse was not exercised"
        for ps in by_ts.values():
            seqs = [p.sequence_number for p in ps]
            assert seqs == [(seqs[0] + k) & 0xFFFF for k in range(len(ps))]
            assert [p.marker for p in ps] == [0] * (len(ps) - 1) + [1]
        numbers = [p.sequence_number for p in arrived]
        assert all((b - a) & 0xFFFF == 1 for a, b in itertools.pairwise(numbers))
        # the lost packet came back (RTX, from the loop's NACK history) and the picture went on
        assert dropped[0] in rtx
        assert abs(int(decoded[-1][10, 10, 1]) - 200) < 20
        # what RTCP and getStats read: the packets and payload bytes this loop sent
        s: Any = tr.sender
        sent = s._RTCRtpSender__packet_count
        assert sent >= len(arrived) and sent - len(arrived) < 40  # some in flight when counted
        assert s._RTCRtpSender__octet_count >= sum(len(p.payload) for p in arrived)
        stats = await tr.sender.getStats()
        outbound = [v for v in stats.values() if v.type == "outbound-rtp"]
        assert outbound and outbound[0].packetsSent == s._RTCRtpSender__packet_count
        dtls: Any = tr.sender.transport
        assert dtls._RTCDtlsTransport__tx_packets >= sent
    finally:
        for t in tasks:
            t.cancel()
        # stop() waits for the loop to end: it must
        await asyncio.wait_for(hub.close(), 10)
        await site.close()
    assert tr.sender._RTCRtpSender__rtp_exited.is_set()  # type: ignore[attr-defined]
