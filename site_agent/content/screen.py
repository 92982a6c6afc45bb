"""The PC's screen as live video: FFmpeg's screen grabber through aiortc's MediaPlayer.

x11grab on Linux (the ``DISPLAY``), gdigrab on Windows (the desktop),
avfoundation on macOS (the first screen). The capture runs at a modest rate
(:data:`SCREEN_FPS`: slides and documents, not film) and is scaled down to at
most :data:`MAX_SIZE` (the content tile is 960×540 of the 720p program;
bigger only costs the link), with Lanczos so the text stays readable.

A platform without a grabber, or a grabber that cannot open the screen (no
X display, macOS without the screen-recording permission) raises
:class:`ScreenUnavailable` with a Thai and an English sentence for the clerk.
"""

from __future__ import annotations

import fractions
import os
import sys
import time
from dataclasses import dataclass

import av
from aiortc.contrib.media import MediaPlayer
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av.video.reformatter import VideoReformatter

SCREEN_FPS = 8
MAX_SIZE = (1280, 720)
SCREEN_KBPS = 900  # the screen stream's ceiling: text at 720p and 8 fps stays sharp well under it


class ScreenUnavailable(OSError):
    """The screen cannot be captured here; ``th`` and ``en`` say why, for the clerk."""

    def __init__(self, th: str, en: str) -> None:
        self.th = th
        self.en = en
        super().__init__(f"{th} / {en}")


@dataclass(frozen=True)
class ScreenSource:
    """What MediaPlayer opens: FFmpeg's input device, its ``-i`` argument and options."""

    format: str
    file: str
    options: dict[str, str]


def screen_source(platform: str = sys.platform, display: str | None = None, fps: int = SCREEN_FPS) -> ScreenSource:
    """The FFmpeg grabber for this platform (raises :class:`ScreenUnavailable` where there is none)."""
    rate = {"framerate": str(fps)}
    if platform.startswith("linux"):
        name = display or os.environ.get("DISPLAY")
        if not name:
            raise ScreenUnavailable("ไม่พบหน้าจอ (ไม่มี DISPLAY) จึงแชร์หน้าจอไม่ได้",
                                    "no screen found (DISPLAY is not set), so the screen cannot be shared")
        return ScreenSource("x11grab", name, {**rate, "draw_mouse": "1"})
    if platform == "win32":
        return ScreenSource("gdigrab", "desktop", {**rate, "draw_mouse": "1"})
    if platform == "darwin":
        # device 1 is the first screen after the camera; "none": no sound from the screen
        return ScreenSource("avfoundation", "1:none", {**rate, "capture_cursor": "1", "pixel_format": "uyvy422"})
    raise ScreenUnavailable(f"เครื่องนี้ ({platform}) ยังแชร์หน้าจอไม่ได้",
                            f"screen sharing is not available on this computer ({platform})")


def fit_even(w: int, h: int, box: tuple[int, int] = MAX_SIZE) -> tuple[int, int]:
    """``w``×``h`` scaled down (never up) into ``box``, even sides for 4:2:0."""
    scale = min(1.0, box[0] / max(1, w), box[1] / max(1, h))
    return max(2, round(w * scale) & ~1), max(2, round(h * scale) & ~1)


class ScreenTrack(MediaStreamTrack):
    """The grabber's frames, at most :data:`SCREEN_FPS` a second, scaled into :data:`MAX_SIZE` in yuv420p."""

    kind = "video"

    def __init__(self, player: MediaPlayer, fps: int = SCREEN_FPS) -> None:
        super().__init__()
        if player.video is None:
            raise ScreenUnavailable("เปิดภาพหน้าจอไม่ได้", "the screen capture has no picture")
        self.player = player
        self.source: MediaStreamTrack = player.video
        self.fps = fps
        self.frames = 0
        self._last = 0.0
        self._scaler = VideoReformatter()  # one SwsContext for the whole share, not one per frame
        self._start: float | None = None

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        while True:
            frame = await self.source.recv()
            assert isinstance(frame, av.VideoFrame)
            now = time.monotonic()
            if now - self._last < 0.9 / self.fps:
                continue  # a grabber that runs faster than asked: keep the rate modest
            self._last = now
            if self._start is None:
                self._start = now
            w, h = fit_even(frame.width, frame.height)
            out = self._scaler.reformat(frame, width=w, height=h, format="yuv420p", interpolation="LANCZOS")
            # the sender's clock: monotonic from the first frame (the grabber's pts are wall-clock based)
            out.pts = int((now - self._start) * 90_000)
            out.time_base = fractions.Fraction(1, 90_000)
            self.frames += 1
            return out

    def stop(self) -> None:
        super().stop()
        self.source.stop()  # the MediaPlayer's thread ends when its last track stops


def open_screen(display: str | None = None, platform: str = sys.platform, fps: int = SCREEN_FPS) -> ScreenTrack:
    """Start capturing the screen; raises :class:`ScreenUnavailable` with the clerk's reason."""
    source = screen_source(platform, display, fps)
    try:
        player = MediaPlayer(source.file, format=source.format, options=source.options)
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise ScreenUnavailable(f"เปิดภาพหน้าจอไม่ได้ ({source.format})",
                                f"the screen could not be captured ({source.format}: {exc})") from exc
    return ScreenTrack(player, fps)


__all__ = ["MAX_SIZE", "SCREEN_FPS", "SCREEN_KBPS", "ScreenSource", "ScreenTrack", "ScreenUnavailable",
           "fit_even", "open_screen", "screen_source"]
