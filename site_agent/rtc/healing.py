"""The one place Salaklang changes aiortc's behaviour: a video jitter buffer that gives up on a hole.

aiortc 1.16's video receiver (``aiortc/rtcrtpreceiver.py``) keeps a 512-packet
:class:`aiortc.jitterbuffer.JitterBuffer` but its NACK generator tracks, and
every sender keeps for retransmission, only ``RTP_HISTORY_SIZE`` = 128
packets. A hole that NACK cannot fill (the retransmission was lost too, or a
cut longer than the sender's history) sits at the head of the buffer, and
``_remove_frame`` stops at the first missing packet: no frame leaves the
buffer until 512 packets have piled up behind it — 17 s for a 320×180
thumbnail at 30 packets/s, a frozen district. Upstream has the same shape for
audio (aiortc/aiortc#543, "the audio jitter buffer will always be full").

:class:`HealingJitterBuffer` waits for a hole at most ``max_wait_s`` of media
time (RTP timestamps: deterministic, no clock read), then skips to the next
frame after it, asks for a keyframe (the caller sends PLI when ``add`` returns
True) and drops the frames that follow until a keyframe arrives, so the
decoder never shows a smeared picture. While it waits it asks again every
``pli_every_s``: a lost PLI or a lost keyframe must not freeze the picture.

:func:`install` puts it into every video receiver of one RTCPeerConnection;
it refuses (RuntimeError) an aiortc whose receiver no longer has the
attribute, rather than silently doing nothing after an upgrade.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from aiortc import RTCPeerConnection, RTCRtpReceiver
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.rtcrtpreceiver import NackGenerator
from aiortc.rtp import RtpPacket
from aiortc.utils import uint16_add

VIDEO_CLOCK = 90_000
AUDIO_CLOCK = 48_000
# aiortc's private attributes (name-mangled ``__jitter_buffer``/``__nack_generator`` of RTCRtpReceiver, 1.16).
_ATTR = "_RTCRtpReceiver__jitter_buffer"
_NACK = "_RTCRtpReceiver__nack_generator"
_CODECS = "_RTCRtpReceiver__codecs"
_QUEUE = "_RTCRtpReceiver__decoder_queue"
_MAPPER = "_RTCRtpReceiver__timestamp_mapper"
_THREAD = "_RTCRtpReceiver__decoder_thread"
# Audio: wait this long for a NACKed packet, then play on without it. Measured: on a loaded
# two-core hub a retransmission takes over 0.1 s now and then (both event loops busy).
AUDIO_MAX_WAIT_S = 0.3


def is_h264_keyframe(data: bytes) -> bool:
    """An Annex-B access unit holding an IDR slice or an SPS (aiortc's depayloader adds start codes)."""
    i = data.find(b"\x00\x00\x01")
    while i >= 0 and i + 3 < len(data):
        nal_type = data[i + 3] & 0x1F
        if nal_type in (5, 7):
            return True
        i = data.find(b"\x00\x00\x01", i + 3)
    return False


def _annex_b(data: bytes) -> bool:
    return data.startswith(b"\x00\x00\x01") or data.startswith(b"\x00\x00\x00\x01")


class HealingJitterBuffer(JitterBuffer):
    """aiortc's jitter buffer, but a hole older than ``max_wait_s`` is skipped (video: then keyframe only)."""

    def __init__(self, capacity: int = 512, *, prefetch: int = 0, is_video: bool = True,
                 max_wait_s: float = 0.35, pli_every_s: float = 0.3, clock_rate: int = VIDEO_CLOCK) -> None:
        super().__init__(capacity=capacity, prefetch=prefetch, is_video=is_video)
        self.max_wait = int(max_wait_s * clock_rate)
        self.pli_every = int(pli_every_s * clock_rate)
        self.waiting_keyframe = False
        self._last_pli_ts: int | None = None
        self.skips = 0  # holes given up on
        # Audio: where extra ready frames go (the receiver's decoder queue, see heal_receiver).
        self.drain: Callable[[JitterFrame, int], None] | None = None
        self.dropped_frames = 0  # frames thrown away while waiting for a keyframe
        # Audio at the hub: True takes a packet off the decode path before it is buffered
        # (hub.media.audio_gate: a district not heard is read for its level only).
        self.bypass: Callable[[RtpPacket], bool] | None = None
        self._bypassed = False

    # --- helpers over the parent's ring ------------------------------------------------------
    def _slot(self, offset: int) -> RtpPacket | None:
        assert self._origin is not None
        packet: RtpPacket | None = self._packets[uint16_add(self._origin, offset) % self._capacity]
        return packet

    def _after_hole(self) -> int | None:
        """Offset of the first packet after the first hole from the head, or None when there is no hole."""
        if self._origin is None:
            return None
        offset = 0
        while offset < self._capacity and self._slot(offset) is not None:
            offset += 1
        for after in range(offset + 1, self._capacity):
            if self._slot(after) is not None:
                return after
        return None

    def _skip_hole(self, newest: RtpPacket) -> bool:
        """Give up on the first hole if the media after it is older than ``max_wait``.

        Everything up to the hole is an incomplete frame (video; complete ones have
        left already) or at most ``prefetch`` frames held back (audio): dropped.
        """
        first = self._after_hole()
        if first is None:
            return False
        after = self._slot(first)
        assert after is not None
        if (newest.timestamp - after.timestamp) % (1 << 32) <= self.max_wait:
            return False
        skip = first
        if self._is_video:
            # The packets right after the hole may be the tail of a frame whose head was
            # lost: drop through the end of that frame and start at the next timestamp.
            while skip < self._capacity:
                p = self._slot(skip)
                if p is None or p.timestamp != after.timestamp:
                    break
                skip += 1
        self.remove(skip)
        self.skips += 1
        self.waiting_keyframe = self._is_video
        return True

    # --- the parent's entry point --------------------------------------------------------------
    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        if self.bypass is not None:
            if self.bypass(packet):
                self._bypassed = True
                return False, None
            if self._bypassed:  # back on the decode path: the ring starts again at this packet
                self._bypassed = False
                self._packets = [None] * self._capacity
                self._origin = None
        pli, frame = super().add(packet)
        while frame is None and self._skip_hole(packet):
            pli = True
            self._last_pli_ts = packet.timestamp
            frame = self._remove_frame(packet.sequence_number)
        if not self._is_video:
            if self.drain is None or frame is None:
                return False, frame
            # aiortc releases at most one frame per packet that arrives, so every packet that
            # waited behind a hole leaves one frame more in the buffer for good; with 5 % loss
            # it overflows within seconds and drops whole runs of audio (aiortc/aiortc#543).
            # Hand every frame beyond the prefetch depth to the decoder now, in order.
            while frame is not None:
                self.drain(frame, packet.payload_type)
                frame = self._remove_frame(packet.sequence_number)
            return False, None
        if pli:
            # aiortc itself asked (buffer overrun, misorder reset): a keyframe is due as well.
            self.waiting_keyframe = self.waiting_keyframe or frame is None or not self._keyframe(frame)
        if frame is not None and self.waiting_keyframe:
            if self._keyframe(frame):
                self.waiting_keyframe = False
            else:
                self.dropped_frames += 1
                frame = None
                last = self._last_pli_ts
                if last is None or (packet.timestamp - last) % (1 << 32) >= self.pli_every:
                    pli = True
        if pli:
            self._last_pli_ts = packet.timestamp
        return pli, frame

    @staticmethod
    def _keyframe(frame: JitterFrame) -> bool:
        # Only H.264 (Annex-B) is understood; anything else is passed through as aiortc would.
        return not _annex_b(frame.data) or is_h264_keyframe(frame.data)


def heal_receiver(receiver: RTCRtpReceiver, **options: Any) -> HealingJitterBuffer:
    """Swap the receiver's jitter buffer for a :class:`HealingJitterBuffer`.

    Audio gets NACK too (aiortc NACKs video only; its senders retransmit any kind
    from their history): with 5 % loss a lost Opus frame comes back in one round
    trip instead of being a 20 ms hole in the mix.
    """
    current = getattr(receiver, _ATTR, None)
    if current is None or not hasattr(receiver, _NACK):
        raise RuntimeError("aiortc's RTCRtpReceiver has no jitter buffer/NACK attribute: "
                           "site_agent/rtc/healing.py was written for aiortc 1.16")
    if isinstance(current, HealingJitterBuffer):
        return current
    setattr(receiver, _NACK, CountingNackGenerator())
    if current._is_video:
        buffer = HealingJitterBuffer(current.capacity, **options)
    else:
        buffer = HealingJitterBuffer(current.capacity, prefetch=current._prefetch, is_video=False,
                                     max_wait_s=AUDIO_MAX_WAIT_S, clock_rate=AUDIO_CLOCK)
        buffer.drain = _decoder_sink(receiver)
    setattr(receiver, _ATTR, buffer)
    return buffer


class CountingNackGenerator(NackGenerator):
    """aiortc's NACK generator, asking again for what is still missing, and counting.

    aiortc NACKs a packet once, when the gap is seen; if that NACK or the
    retransmission is lost (5 % each on a bad link) the hole can only be skipped.
    This one repeats the request every ``repeat_s`` (``add`` returning True makes the
    receiver send the whole missing list), at most ``tries`` times per packet.
    """

    def __init__(self, repeat_s: float = 0.08, tries: int = 3, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.repeat_s = repeat_s
        self.tries = tries
        self.clock = clock
        self.nacked = 0
        self._asked: dict[int, int] = {}
        self._last = 0.0

    def add(self, packet: RtpPacket) -> bool:
        before = set(self.missing)
        missed = super().add(packet)
        now = self.clock()
        for seq in list(self._asked):
            if seq not in self.missing:
                del self._asked[seq]
        if missed:
            self.nacked += len(self.missing - before)
        elif self.missing and now - self._last >= self.repeat_s:
            # stop asking for packets asked for often enough: they are gone
            for seq in [q for q in self.missing if self._asked.get(q, 0) >= self.tries]:
                self.missing.discard(seq)
                del self._asked[seq]
            missed = bool(self.missing)
        if missed:
            self._last = now
            for seq in self.missing:
                self._asked[seq] = self._asked.get(seq, 0) + 1
        return missed


def nacked(receiver: RTCRtpReceiver) -> int:
    """Packets this receiver has asked to be sent again (0 when not healed)."""
    generator = getattr(receiver, _NACK, None)
    return generator.nacked if isinstance(generator, CountingNackGenerator) else 0


def _decoder_sink(receiver: RTCRtpReceiver) -> Callable[[JitterFrame, int], None]:
    """Queue a frame for the receiver's decoder thread exactly as ``_handle_rtp_packet`` does."""
    for attr in (_CODECS, _QUEUE, _MAPPER, _THREAD):
        if not hasattr(receiver, attr):
            raise RuntimeError(f"aiortc's RTCRtpReceiver has no {attr}: site_agent/rtc/healing.py "
                               "was written for aiortc 1.16")

    def sink(frame: JitterFrame, payload_type: int) -> None:
        codec = getattr(receiver, _CODECS).get(payload_type)
        if codec is None or getattr(receiver, _THREAD) is None:
            return
        frame.timestamp = getattr(receiver, _MAPPER).map(frame.timestamp)
        getattr(receiver, _QUEUE).put((codec, frame))

    return sink


def install(pc: RTCPeerConnection, **options: Any) -> list[HealingJitterBuffer]:
    """Heal every video receiver of ``pc`` (call after adding the transceivers, before media flows)."""
    return [heal_receiver(t.receiver, **options) for t in pc.getTransceivers()]


__all__ = ["CountingNackGenerator", "HealingJitterBuffer", "heal_receiver", "install", "is_h264_keyframe", "nacked"]
