"""Encode the program ONCE and hand the same packets to every site.

aiortc encodes separately for every sender it is given frames for; given
``av.Packet``s it only packetizes them (``Encoder.pack``). So the MCU encodes
each program frame once here and every site's sender reads the same packets
from a :class:`PacketTrack`.

Codec: H.264 (libx264, Constrained Baseline, level 3.1, zerolatency) on every
transceiver. Chosen over VP8 because district notebooks decode H.264 in
hardware (VP8 is software-only on most of them), libx264's ultrafast preset
costs the hub far less CPU per 720p frame than libvpx's realtime mode, and
aiortc's H.264 packetizer takes Annex-B packets straight from libx264.

Packetised once: aiortc's sender would split each packet into RTP payloads
(H.264 FU-A/STAP-A) once per site. :class:`PacketFanout` splits each program
packet ONCE into a :class:`PackedFrame` and every site's sender, adapted by
:func:`share_packetisation`, sends those same payloads; only the RTP header
(its own SSRC, sequence numbers, timestamp origin) and SRTP stay per site.

Keyframes: receivers ask with PLI/FIR. aiortc would set a per-sender flag that
a pre-encoded packet ignores, so :func:`route_keyframe_requests` points each
sender's hook at the shared encoder, which grants at most one keyframe per
``min_interval`` (0.5 s; a burst of requests from 20 sites gives one keyframe).
"""

from __future__ import annotations

import asyncio
import fractions
import logging
import time
from collections.abc import Callable
from typing import Any

import av
import numpy as np
from aiortc import RTCRtpSender
from aiortc.codecs.h264 import H264Encoder
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcrtpsender import RTCEncodedFrame

from hub.media import rtp_send

log = logging.getLogger(__name__)

VIDEO_CLOCK = 90_000
VBV_BUFFER_S = 0.5  # the program encoder's VBV buffer, in seconds of its bitrate (see SharedVideoEncoder)
TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK)


class KeyframeGate:
    """Rate-limits keyframe requests; a request inside the window is deferred, not lost."""

    # 0.5 s: a district that lost a picture waits at most this long for the next keyframe
    # (the loss target is no freeze over 1 s); a burst from 20 sites still gives one.
    def __init__(self, min_interval: float = 0.5, clock: Callable[[], float] = time.monotonic) -> None:
        self.min_interval = min_interval
        self.clock = clock
        self.last_keyframe = -1e9
        self.pending = False
        self.requests = 0
        self.granted = 0

    def request(self) -> None:
        self.requests += 1
        self.pending = True

    def take(self) -> bool:
        """Called once per frame: should this frame be a keyframe?"""
        if self.pending and self.clock() - self.last_keyframe >= self.min_interval:
            self.pending = False
            self.last_keyframe = self.clock()
            self.granted += 1
            return True
        return False

    def note_keyframe(self) -> None:
        self.last_keyframe = self.clock()


class SharedVideoEncoder:
    """One libx264 context for the program; ``encode`` is called from one thread only."""

    def __init__(self, width: int, height: int, fps: int, kbps: int = 2500, gop_s: float = 10.0) -> None:
        self.width, self.height, self.fps = width, height, fps
        self.gop_s = gop_s
        self.kbps = kbps
        self._want_kbps: int | None = None  # set from the event loop, taken by the next encode
        ctx = self._open(kbps)
        self.ctx = ctx
        self.gate = KeyframeGate()
        self.reopened = 0  # encoders opened anew for a new bitrate (hub.media.governor)
        self.frames = 0
        self.wall_s = 0.0  # time spent in encode calls (x264 works in its own threads too)
        # the recorder (hub.media.recorder, issue 14): handed each packet exactly as the districts get it
        self.tap: Callable[[av.Packet], None] | None = None

    def _open(self, kbps: int) -> Any:
        ctx = av.CodecContext.create("libx264", "w")
        ctx.width = self.width
        ctx.height = self.height
        ctx.pix_fmt = "yuv420p"
        ctx.time_base = TIME_BASE
        ctx.framerate = fractions.Fraction(self.fps, 1)
        ctx.bit_rate = kbps * 1000
        ctx.gop_size = max(1, int(self.gop_s * self.fps))
        ctx.profile = "Baseline"
        ctx.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "level": "31",
            # repeat SPS/PPS before every keyframe so any joiner can start there.
            # VBV (maxrate = the bitrate, a buffer of VBV_BUFFER_S): no frame may be bigger than
            # half a second of the program. Without it a moving clip's keyframes ran to ~10× a
            # frame; at 20 districts the senders fell behind on each, restarted from the next
            # keyframe they asked for, and the program reached them at 3 fps (scripts/bench_mcu.py,
            # the in-briefing clip window). The price: a new page is a little less sharp in its
            # first half second (PSNR at 2500 kbit/s 59 → 52 dB; after 2 s 65.6 → 64.6 dB).
            "x264-params": (f"repeat-headers=1:keyint-min=1:scenecut=0:vbv-maxrate={kbps}"
                            f":vbv-bufsize={int(kbps * VBV_BUFFER_S)}"),
        }
        return ctx

    def set_kbps(self, kbps: int) -> None:
        """A new bitrate from the next frame on (any thread).

        x264 ignores a new ``bit_rate`` on an open stream (measured: 2500 → 1000 kbit/s set
        live, 2496 kbit/s out), so the next frame opens a new encoder at the new rate; its first
        frame is a keyframe with SPS/PPS, which every receiver decodes from.
        """
        self._want_kbps = kbps

    def encode(self, picture: np.ndarray, pts: int) -> list[av.Packet]:
        """``picture``: the program as a (h*3/2)×w yuv420p array (the compositor's canvas)
        or an h×w×3 RGB array (converted here; load generators and tests)."""
        t0 = time.perf_counter()
        if picture.ndim == 2:
            frame = av.VideoFrame.from_ndarray(picture, format="yuv420p")
        else:
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24").reformat(format="yuv420p")
        frame.pts = pts
        frame.time_base = TIME_BASE
        want = self._want_kbps
        reopen = want is not None and want != self.kbps
        if reopen:
            assert want is not None
            self.ctx, self.kbps, self._want_kbps = self._open(want), want, None
            self.reopened += 1
        keyframe = self.gate.take() or self.frames == 0 or reopen
        frame.pict_type = av.video.frame.PictureType.I if keyframe else av.video.frame.PictureType.NONE
        packets = list(self.ctx.encode(frame))
        for p in packets:
            p.time_base = TIME_BASE
            if p.pts is None:
                p.pts = pts
            if p.is_keyframe:
                self.gate.note_keyframe()
        self.frames += 1
        self.wall_s += time.perf_counter() - t0
        tap = self.tap
        if tap is not None:
            for p in packets:
                tap(p)
        return packets


class PackedFrame:
    """One encoded frame split into RTP payloads, shared by every site's sender.

    ``timestamp`` is in the codec's clock (90 kHz video, 48 kHz Opus) from the
    shared encoder's origin; each sender adds its own random origin. ``packet``
    is the encoded packet itself (for taps such as a recorder).
    """

    __slots__ = ("keyframe", "packet", "payloads", "timestamp")

    def __init__(self, payloads: list[bytes], timestamp: int, keyframe: bool, packet: av.Packet) -> None:
        self.payloads = payloads
        self.timestamp = timestamp
        self.keyframe = keyframe
        self.packet = packet

    @classmethod
    def video(cls, packet: av.Packet) -> PackedFrame:
        """H.264 Annex-B → RTP payloads, exactly as aiortc's ``H264Encoder.pack`` does it."""
        payloads = H264Encoder._packetize(H264Encoder._split_bitstream(bytes(packet)))
        return cls(payloads, _clock(packet, VIDEO_CLOCK), bool(packet.is_keyframe), packet)

    @classmethod
    def audio(cls, packet: av.Packet) -> PackedFrame:
        """Opus: one packet is one payload (aiortc's ``OpusEncoder.pack``)."""
        return cls([bytes(packet)], _clock(packet, 48_000), True, packet)

    @classmethod
    def of(cls, kind: str, packet: av.Packet) -> PackedFrame:
        return cls.video(packet) if kind == "video" else cls.audio(packet)


def _clock(packet: av.Packet, rate: int) -> int:
    pts = packet.pts or 0
    tb = packet.time_base
    if tb is None or tb == fractions.Fraction(1, rate):
        return int(pts)
    return int(pts * tb * rate)


class PacketFanout:
    """Distributes each encoded packet to every subscribed :class:`PacketTrack`."""

    def __init__(self, kind: str, on_join: Callable[[], None] | None = None) -> None:
        self.kind = kind
        self.tracks: set[PacketTrack] = set()
        self.on_join = on_join

    def track(self, wait_keyframe: bool = True) -> PacketTrack:
        t = PacketTrack(self, self.kind, wait_keyframe)
        self.tracks.add(t)
        if self.on_join is not None:
            self.on_join()  # a new receiver needs a keyframe to start from
        return t

    def publish(self, packet: av.Packet | PackedFrame) -> None:
        """Packetise once, then queue the same payloads for every site."""
        packed = packet if isinstance(packet, PackedFrame) else PackedFrame.of(self.kind, packet)
        for t in list(self.tracks):
            t.push(packed)


class PacketTrack(MediaStreamTrack):
    """A track whose ``recv`` yields :class:`PackedFrame`s: pre-encoded, pre-packetised.

    Only a sender adapted by :func:`share_packetisation` reads it (aiortc's own
    ``_next_encoded_frame`` would try to pack a PackedFrame as an ``av.Packet``).
    """

    # Frames waiting for this site's sender. A sender that falls this far behind
    # (its event-loop turns come late, or its socket stalls) is restarted from the
    # next keyframe instead of delivering ever older pictures: ~0.5 s at 25 fps.
    MAX_QUEUE = 12

    def __init__(self, fanout: PacketFanout | None, kind: str, wait_keyframe: bool = False) -> None:
        super().__init__()
        self.kind = kind
        self._fanout = fanout
        self._queue: asyncio.Queue[PackedFrame] = asyncio.Queue()
        self._waiting_keyframe = wait_keyframe
        self.dropped = 0

    def push(self, packet: PackedFrame | av.Packet) -> None:
        if self.readyState != "live":
            return
        if not isinstance(packet, PackedFrame):
            packet = PackedFrame.of(self.kind, packet)  # a site's own packet (mix-minus)
        if self._waiting_keyframe:
            # A decoder cannot start from a delta frame: skip to the next keyframe.
            if not packet.keyframe:
                return
            self._waiting_keyframe = False
        if self._queue.qsize() >= self.MAX_QUEUE:
            # The sender is stuck (its transport stalled): restart it from a keyframe.
            self.dropped += self._queue.qsize()
            while not self._queue.empty():
                self._queue.get_nowait()
            if self.kind == "video":
                self._waiting_keyframe = True
                if self._fanout is not None and self._fanout.on_join is not None:
                    self._fanout.on_join()
                return
        self._queue.put_nowait(packet)

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    async def recv(self) -> PackedFrame:  # type: ignore[override]  # read by share_packetisation only
        if self.readyState != "live":
            raise MediaStreamError
        return await self._queue.get()

    def stop(self) -> None:
        super().stop()
        if self._fanout is not None:
            self._fanout.tracks.discard(self)


def route_keyframe_requests(sender: RTCRtpSender, request: Callable[[], None]) -> None:
    """Send this sender's PLI/FIR to the shared encoder instead of its own (unused) one."""
    # aiortc's RTCP handler calls ``self._send_keyframe()`` on PLI/FIR; an
    # instance attribute shadows the method for this sender only.
    sender._send_keyframe = request  # type: ignore[method-assign]


def share_packetisation(sender: RTCRtpSender, track: PacketTrack) -> None:
    """Make ``sender`` send ``track``'s shared RTP payloads instead of packing each packet itself.

    Upstream: aiortc 1.16 ``RTCRtpSender._next_encoded_frame``
    (https://github.com/aiortc/aiortc/blob/main/src/aiortc/rtcrtpsender.py) reads
    the track and calls its own encoder's ``pack(packet)`` — the H.264 NAL split
    and FU-A fragmentation, in Python, once per site per frame. ``_run_rtp``
    then wraps each payload in this sender's RTP header, keeps it for NACK
    retransmission and SRTP-protects it; all of that is kept. This replaces only
    the fetch-and-pack step, by the same hook aiortc awaits (an instance
    attribute shadows the method for this sender only), returning the
    payloads :class:`PacketFanout` made once for everyone. If aiortc renames
    the hook, ``tests/hub/media/test_shared_packets.py`` fails.
    """

    async def next_encoded_frame(codec: Any) -> RTCEncodedFrame | None:
        frame = await track.recv()
        if not sender._enabled:
            return None  # as upstream: a disabled sender still drains its track
        return RTCEncodedFrame(frame.payloads, frame.timestamp, None)  # type: ignore[arg-type]

    sender._next_encoded_frame = next_encoded_frame  # type: ignore[method-assign]
    # and the send loop itself, per frame rather than per packet (hub.media.rtp_send); where
    # this aiortc lacks what that loop uses, upstream's loop reads the hook above
    if not rtp_send.install(sender, track):
        log.warning("aiortc's RTCRtpSender lacks %s: upstream's send loop is used", rtp_send.missing(sender))


def h264_codecs() -> list[Any]:
    """The H.264 codecs aiortc offers (packetization-mode 1 first), for setCodecPreferences."""
    caps = RTCRtpSender.getCapabilities("video").codecs
    h264 = [c for c in caps if c.mimeType.lower() == "video/h264"]
    h264.sort(key=lambda c: c.parameters.get("packetization-mode") != "1")
    rtx = [c for c in caps if c.mimeType.lower() == "video/rtx"]
    return h264 + rtx


def opus_codecs() -> list[Any]:
    caps = RTCRtpSender.getCapabilities("audio").codecs
    return [c for c in caps if c.mimeType.lower() == "audio/opus"]
