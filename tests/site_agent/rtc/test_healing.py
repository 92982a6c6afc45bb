"""The healing jitter buffer: a hole NACK cannot fill no longer freezes the picture (aiortc 1.16)."""

from __future__ import annotations

from aiortc import RTCPeerConnection
from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtp import RtpPacket

from site_agent.rtc.healing import (
    CountingNackGenerator,
    HealingJitterBuffer,
    install,
    is_h264_keyframe,
)

IDR = b"\x00\x00\x00\x01\x67\x42" + b"\x00\x00\x00\x01\x65\x88"  # SPS + IDR slice
DELTA = b"\x00\x00\x00\x01\x41\x9a"  # non-IDR slice
TICKS = 6000  # 15 fps at 90 kHz


def packets(frames: int, per_frame: int = 2, keyframe_every: int = 0, start_seq: int = 1000) -> list[RtpPacket]:
    out = []
    seq = start_seq
    for f in range(frames):
        key = f == 0 or (keyframe_every and f % keyframe_every == 0)
        for i in range(per_frame):
            p = RtpPacket(sequence_number=seq % 65536, timestamp=f * TICKS)
            p._data = (IDR if key else DELTA) if i == 0 else b"\x00\x00\x01\x01"  # type: ignore[attr-defined]
            out.append(p)
            seq += 1
    return out


def feed(buffer: JitterBuffer, pkts: list[RtpPacket]) -> tuple[list[int], int]:
    """Timestamps of the frames that came out, and how many times a keyframe was asked for."""
    frames, plis = [], 0
    for p in pkts:
        pli, frame = buffer.add(p)
        plis += pli
        if frame is not None:
            frames.append(frame.timestamp)
    return frames, plis


def test_h264_keyframe_detection() -> None:
    assert is_h264_keyframe(IDR)
    assert not is_h264_keyframe(DELTA)


def test_upstream_buffer_freezes_on_an_unfilled_hole_ours_skips_it() -> None:
    pkts = packets(60, keyframe_every=10)
    lossy = pkts[:21] + pkts[22:]  # one packet of frame 10 never arrives (its NACK failed)
    upstream, _ = feed(JitterBuffer(capacity=512, is_video=True), lossy)
    assert max(upstream) < 10 * TICKS  # aiortc: nothing after the hole for 512 packets
    healed = HealingJitterBuffer(512, max_wait_s=0.25)
    out, plis = feed(healed, lossy)
    assert healed.skips == 1 and plis >= 1
    # frames 11..19 are deltas without their reference: none shown until the keyframe at 20
    assert 20 * TICKS in out and not any(11 * TICKS <= t < 20 * TICKS for t in out)
    assert out[-1] == 58 * TICKS  # the last complete frame is out (59 waits for its successor)
    assert healed.dropped_frames == 8  # 11 went with the hole (it might have been its tail), 12..19 here


def test_a_hole_filled_in_time_is_waited_for() -> None:
    pkts = packets(30)
    late = pkts[:11] + pkts[12:16] + [pkts[11]] + pkts[16:]  # a NACKed packet back within 2 frames
    healed = HealingJitterBuffer(512, max_wait_s=0.25)
    out, plis = feed(healed, late)
    assert healed.skips == 0 and plis == 0
    assert out == [f * TICKS for f in range(29)]


def test_keyframe_is_asked_again_while_waiting() -> None:
    pkts = packets(40)  # one keyframe only: the first request (or its answer) was lost
    healed = HealingJitterBuffer(512, max_wait_s=0.25, pli_every_s=0.3)
    _, plis = feed(healed, pkts[:5] + pkts[6:])
    assert healed.waiting_keyframe
    assert plis >= 1 + (37 * TICKS - 0.25 * 90_000) // (0.3 * 90_000) - 1


async def test_install_replaces_every_receiver_buffer() -> None:
    # async: aiortc's senders take the running loop (a sync test would depend on test order)
    pc = RTCPeerConnection()
    pc.addTransceiver("video")
    pc.addTransceiver("audio")
    buffers = install(pc)
    assert [b._is_video for b in buffers] == [True, False]
    audio = pc.getTransceivers()[1].receiver
    assert audio._RTCRtpReceiver__nack_generator is not None  # type: ignore[attr-defined]
    assert install(pc) == buffers  # idempotent
    await pc.close()


def test_audio_drains_to_its_prefetch_depth_after_a_late_packet() -> None:
    """aiortc lets one frame out per packet in; ours hands every ready frame on at once, in order."""

    def opus(n: int) -> list[RtpPacket]:
        out = []
        for i in range(n):
            p = RtpPacket(sequence_number=500 + i, timestamp=960 * i)
            p._data = bytes([i % 256])  # type: ignore[attr-defined]
            out.append(p)
        return out

    pkts = opus(200)
    order = []
    for i, p in enumerate(pkts):
        if i % 10 == 2:
            continue  # lost, NACKed...
        order.append(p)
        if i % 10 == 5:
            order.append(pkts[i - 3])  # ...and retransmitted three packets later
    healed = HealingJitterBuffer(16, prefetch=4, is_video=False, max_wait_s=0.1, clock_rate=48_000)
    out: list[int] = []
    healed.drain = lambda frame, pt: out.append(frame.timestamp)
    returned, plis = feed(healed, order)
    assert returned == [] and plis == 0 and healed.skips == 0
    assert out == [960 * i for i in range(len(out))]  # every frame, in order, none lost
    assert len(out) >= 200 - 5  # only the prefetch depth is still buffered
    assert len([q for q in healed._packets if q is not None]) <= 4


def test_nack_is_repeated_for_what_is_still_missing() -> None:
    now = [0.0]
    gen = CountingNackGenerator(repeat_s=0.08, tries=3, clock=lambda: now[0])

    def pkt(seq: int) -> RtpPacket:
        return RtpPacket(sequence_number=seq, timestamp=seq * 960)

    assert not gen.add(pkt(1))
    assert gen.add(pkt(3)) and gen.missing == {2}  # the gap: aiortc's own NACK
    now[0] = 0.05
    assert not gen.add(pkt(4))  # too soon to ask again
    asked = []
    for i in range(5, 12):
        now[0] += 0.1
        asked.append(gen.add(pkt(i)))
    assert asked[:2] == [True, True] and not any(asked[2:])  # three requests in all, then given up
    assert gen.missing == set() and gen.nacked == 1
    assert gen.add(pkt(13)) and gen.missing == {12}
    gen.add(pkt(12))  # the retransmission arrived: nothing more to ask
    assert gen.missing == set() and gen.nacked == 2
