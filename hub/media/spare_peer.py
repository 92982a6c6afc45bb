"""Peer connections made, and their ICE candidates gathered, before the offer that needs them.

Why (issue 15, BENCHMARKS.md "Guests and browser districts"): answering an offer in the worker
takes about 16 event-loop turns, 10 of them aioice gathering the host candidates (a socket per
address, each awaited). With 20 districts the worker's turns are long (tens of milliseconds to
over 100 ms), so an answer took 1–3 s, the largest phase of a browser guest's join. A
connection gathered in advance answers in about 6 turns. One is kept ready; the next one
gathers in the background as soon as it is taken, off the path of the join that took it. One
taken while none is ready starts gathering at once, alongside setRemoteDescription.

The connection is the one :meth:`hub.media.mcu.MCU.offer` made itself before: two sendrecv
transceivers, video then audio, which the offer's tracks join with ``replaceTrack`` (aiortc's
sender takes its track any time before it starts sending). The gathered transport is the video
transceiver's, the bundle's first (the offers put video first); ``setLocalDescription`` gathers
only transports not gathered yet, so an offer without BUNDLE still gets its audio candidates.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from aiortc import RTCPeerConnection, RTCRtpTransceiver

from site_agent.rtc.config import rtc_configuration


@dataclass
class Spare:
    pc: RTCPeerConnection
    video: RTCRtpTransceiver
    audio: RTCRtpTransceiver
    gathered: asyncio.Future[None]  # the video transport's candidates; await before createAnswer


def _make() -> Spare:
    pc = RTCPeerConnection(rtc_configuration())
    video = pc.addTransceiver("video", direction="sendrecv")
    audio = pc.addTransceiver("audio", direction="sendrecv")
    gathered = asyncio.ensure_future(video.sender.transport.transport.iceGatherer.gather())
    return Spare(pc, video, audio, gathered)


class SparePeers:
    """Keeps one gathered peer connection ready for the next offer."""

    def __init__(self) -> None:
        self._ready: Spare | None = None
        self._closed = False

    def fill(self) -> None:
        if self._ready is None and not self._closed:
            self._ready = _make()

    def take(self) -> Spare:
        # A spare whose gathering failed (no address at all) fails its offer as a fresh one would.
        spare, self._ready = self._ready, None
        self.fill()
        return spare if spare is not None else _make()

    async def close(self) -> None:
        self._closed = True
        spare, self._ready = self._ready, None
        if spare is not None:
            with contextlib.suppress(Exception):
                await spare.gathered
            await spare.pc.close()


__all__ = ["Spare", "SparePeers"]
