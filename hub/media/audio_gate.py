"""A district's sound is decoded only while it is heard; its level rides in the RTP header.

Of a province's 20 districts a briefing hears two or three: the hall, the floor holder, a mic
the chair opened (hub.conferences.conference.Conference.audible). The others' Opus was decoded
at 1,000 packets a second only to show their level on the live board — the audio lane's
0.10 cores and about as much again on the event loop (BENCHMARKS.md, issue 17). Every sender
in this system puts that level in each packet's header (RFC 6464 ``ssrc-audio-level``, which
aiortc negotiates and fills from the frame it encodes; browsers do too), so a district that
is not heard is read there and its packets leave the receive path before its jitter buffer:
no reassembly, no decode, no hand-off, no mixing. What the district's line delivers is still
counted, packet by packet (:class:`hub.media.arrivals.ArrivalLedger`), so the health figures (``audio_in``,
``audio_missing``) mean the same whichever path a packet took.

A packet without the header (a sender that does not fill it) is decoded, as before, so its
level is still known. When a district becomes heard, its next packet starts a fresh jitter
buffer and the decoder goes on from there: Opus needs no keyframe, the first 20 ms is already
sound.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hub.media.arrivals import ArrivalLedger
from site_agent.rtc.healing import HealingJitterBuffer


class LevelGate:
    """Decides, packet by packet, whether one district's sound goes on to be decoded.

    ``heard`` is asked per packet (the scene may change at any time); ``on_level`` gets the
    header's level in dBFS (RFC 6464: 0 to -127 dBov, the same RMS scale as the mixer's).
    """

    def __init__(self, heard: Callable[[], bool], on_level: Callable[[float], None],
                 on_path_change: Callable[[], None] | None = None) -> None:
        self._heard = heard
        self._on_level = on_level
        self._on_path_change = on_path_change or (lambda: None)
        self.ledger = ArrivalLedger()
        self.gated = False

    def __call__(self, packet: Any) -> bool:
        """True: the packet's work ends here (its level is read and it is counted)."""
        level = packet.extensions.audio_level
        if level is not None:
            self._on_level(-float(level[1]))
        gate = level is not None and not self._heard()
        if gate != self.gated:
            self.gated = gate
            self.ledger.reset()
            self._on_path_change()
        if gate:
            self.ledger.add(packet.sequence_number)
        return gate


def install(buffer: HealingJitterBuffer, gate: LevelGate) -> None:
    """Put ``gate`` in front of an audio receiver's jitter buffer (site_agent.rtc.healing)."""
    if buffer._is_video:
        raise ValueError("a level gate is for an audio stream")
    buffer.bypass = gate


__all__ = ["LevelGate", "install"]
