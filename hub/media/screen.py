"""A district's shared screen in the media worker: its second video stream, kept for the content tile.

Every agent offers two video streams: its camera (sendrecv: the program comes
back on it) and a screen stream (sendonly) that carries nothing until the
clerk shares the screen — then the agent puts the FFmpeg capture on it with
``RTCRtpSender.replaceTrack``, without renegotiating. So the camera stays in
the speaker tile while the screen fills the content tile, as in every
meeting product.

The MCU tells the two apart by transceiver (:func:`is_camera`) and hands the
screen track to :meth:`ScreenFrames.receive`, which keeps the latest decoded
frame of each site. The render thread reads it through
:class:`hub.media.content_source.ContentSource` when the control process's
``ContentShow`` names that site's screen; a frame is scaled only when a new
one came in.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

import av
from aiortc import RTCPeerConnection, RTCRtpTransceiver
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

# The largest shared screen taken: the content tile is at most 960×540 of a 1280×720 program,
# so a bigger picture only costs decoding. The agent scales to this before sending.
MAX_SCREEN_PIXELS = 1920 * 1088


@dataclass(frozen=True)
class ScreenFrame:
    seq: int  # grows with every new frame: the content tile repaints only when it changes
    frame: av.VideoFrame
    at: float  # time.monotonic() when it arrived


def is_camera(pc: RTCPeerConnection, camera: RTCRtpTransceiver, track: MediaStreamTrack) -> bool:
    """Whether ``track`` is the site's camera (the transceiver the MCU added), not its screen."""
    if camera.receiver.track is track:
        return True
    # A track of another video transceiver: the screen stream the agent's offer added.
    return not any(t.receiver.track is track for t in pc.getTransceivers() if t is not camera)


class ScreenFrames:
    """The latest screen frame of each sharing site: written on the event loop, read by the render thread."""

    def __init__(self) -> None:
        self._latest: dict[str, ScreenFrame] = {}
        self.frames_in: dict[str, int] = {}
        self.rejected: dict[str, int] = {}

    def latest(self, site: str) -> ScreenFrame | None:
        return self._latest.get(site)

    def drop(self, site: str) -> None:
        self._latest.pop(site, None)

    async def receive(self, site: str, track: MediaStreamTrack) -> None:
        """Read a site's screen stream until it ends; the frames stay decoded, scaled lazily."""
        seq = 0
        try:
            with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
                while True:
                    frame = await track.recv()
                    if not isinstance(frame, av.VideoFrame):
                        continue
                    if frame.width * frame.height > MAX_SCREEN_PIXELS:
                        self.rejected[site] = self.rejected.get(site, 0) + 1
                        continue
                    seq += 1
                    self.frames_in[site] = self.frames_in.get(site, 0) + 1
                    self._latest[site] = ScreenFrame(seq, frame, time.monotonic())
        finally:
            self.drop(site)


__all__ = ["MAX_SCREEN_PIXELS", "ScreenFrame", "ScreenFrames", "is_camera"]
