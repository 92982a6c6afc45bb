"""The content tile in the media worker: a page, a photo or a playing clip, at the tile's real size.

The control process sends :class:`hub.media.channel.ContentShow` on every
visible change (the PNG of the page and its version, or the clip and its play
head). The render thread asks :meth:`ContentSource.frame_for` for the tile's
picture each frame; a page is read and scaled once per version (Lanczos:
slide text stays sharp at the districts), a clip's frame once per new frame.
A new page asks the shared encoder for a keyframe, so every district gets the
new page whole at once instead of building it up over P-frames.

A district's live screen (``ContentShow.screen``) is the latest frame of its
screen stream (:class:`hub.media.screen.ScreenFrames`), scaled like a clip's
frame each time a new one arrives; its first frame comes with a keyframe.

The clip's sound is pulled by the mixer every 20 ms (:meth:`audio_chunk`) and
added to the common mix, so every district (and every mix-minus) hears it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter
from PIL import Image

from hub.media import channel
from hub.media.content_clip import ClipPlayer
from hub.media.screen import ScreenFrames

log = logging.getLogger(__name__)

LETTERBOX = (0, 0, 0)


def fit(src_w: int, src_h: int, box_w: int, box_h: int) -> tuple[int, int]:
    """The largest even size with the source's aspect inside the box (letterboxed, never cropped)."""
    scale = min(box_w / max(1, src_w), box_h / max(1, src_h))
    w = max(2, min(box_w, round(src_w * scale)) & ~1)
    h = max(2, min(box_h, round(src_h * scale)) & ~1)
    return w, h


def letterbox(rgb: np.ndarray, w: int, h: int) -> np.ndarray:
    """``rgb`` centred on a w×h black picture."""
    if rgb.shape[:2] == (h, w):
        return rgb
    out = np.empty((h, w, 3), dtype=np.uint8)
    out[:] = LETTERBOX
    ph, pw = rgb.shape[:2]
    y, x = (h - ph) // 2, (w - pw) // 2
    out[y:y + ph, x:x + pw] = rgb
    return out


def page_picture(path: Path, w: int, h: int) -> np.ndarray:
    """A page PNG scaled to w×h with Lanczos (the rendered size is the tile's at 1280×720)."""
    with Image.open(path) as page:
        rgb = page.convert("RGB")
        size = fit(rgb.width, rgb.height, w, h)
        if size != (rgb.width, rgb.height):
            rgb = rgb.resize(size, Image.Resampling.LANCZOS)
        return letterbox(np.asarray(rgb, dtype=np.uint8), w, h)


@dataclass(frozen=True)
class _Shown:
    version: int
    image: Path | None
    keyframe: bool
    player: ClipPlayer | None
    screen: str | None = None
    since: float = 0.0  # time.monotonic() of the op: a screen frame older than it is from an earlier share


class ContentSource:
    """What the content tile shows; :meth:`apply` on the event loop, :meth:`frame_for` in the render thread."""

    def __init__(self, clock: Callable[[], float] | None = None, screens: ScreenFrames | None = None) -> None:
        self._shown = _Shown(0, None, False, None)
        self._clock = clock
        self.screens = screens or ScreenFrames()
        # render thread only
        self._cache_key: tuple[object, ...] | None = None
        self._cache: av.VideoFrame | None = None
        self._keyframe_for = 0
        self._rgb: tuple[av.VideoFrame, np.ndarray] | None = None
        self._scaler = VideoReformatter()  # a clip's or a screen's frames, scaled with one SwsContext
        self._to_yuv = VideoReformatter()  # ... and, letterboxed, back to YUV with another
        self.pages_scaled = 0
        self.clip_frames = 0
        self.screen_frames = 0

    @property
    def active(self) -> bool:
        shown = self._shown
        return shown.image is not None or shown.player is not None or shown.screen is not None

    @property
    def version(self) -> int:
        return self._shown.version

    def apply(self, op: channel.ContentShow) -> None:
        """Show what the op says (a new clip player for every clip change); stop what was there."""
        old = self._shown
        player = None
        if op.clip is not None:
            kwargs = {"clock": self._clock} if self._clock is not None else {}
            player = ClipPlayer(Path(op.clip.path), op.clip.position_s, op.clip.at, op.clip.playing,
                                op.clip.duration_s, **kwargs)
        self._shown = _Shown(op.version, Path(op.image) if op.image else None, op.keyframe, player, op.screen,
                             time.monotonic())
        if old.player is not None:
            old.player.stop()  # its threads end at their next frame; nothing waits for them

    def close(self) -> None:
        shown, self._shown = self._shown, _Shown(self._shown.version + 1, None, False, None)
        if shown.player is not None:
            shown.player.stop()
            shown.player.join()

    def audio_chunk(self) -> np.ndarray | None:
        player = self._shown.player
        return player.audio_chunk() if player is not None and player.playing else None

    def take_keyframe(self) -> bool:
        """True once per version whose change wants a keyframe (render thread, after :meth:`frame_for`)."""
        shown = self._shown
        if shown.keyframe and self._keyframe_for != shown.version and self._cache_key is not None \
                and self._cache_key[0] == shown.version:
            self._keyframe_for = shown.version
            return True
        return False

    def frame_for(self, w: int, h: int) -> av.VideoFrame | None:
        """The tile's picture as a w×h yuv420p frame; the same object until it changes."""
        shown = self._shown
        key: tuple[object, ...]
        screen = self.screens.latest(shown.screen) if shown.screen is not None else None
        if screen is not None and screen.at < shown.since:
            screen = None  # the last picture of an earlier share, kept by the receiver: never shown again
        if shown.screen is not None:
            if screen is None:
                return None  # not one frame of the screen yet: the tile keeps its background
            key = (shown.version, "screen", screen.seq, w, h)
        elif shown.player is not None:
            latest = shown.player.latest()
            if latest is None:
                # a clip just started: its poster (the page image) until the first frame
                if shown.image is None:
                    return None
                key = (shown.version, "poster", w, h)
            else:
                key = (shown.version, latest[0], w, h)
        elif shown.image is not None:
            key = (shown.version, "page", w, h)
        else:
            return None
        if key == self._cache_key:
            return self._cache
        try:
            if key[1] in ("page", "poster"):
                assert shown.image is not None
                rgb = page_picture(shown.image, w, h)
                self.pages_scaled += 1
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
            elif key[1] == "screen":
                assert screen is not None
                # Lanczos: a screen is mostly text, and it changes a few times a second, not 25
                frame = self._clip_frame(screen.frame, w, h, "LANCZOS")
                self.screen_frames += 1
            else:
                assert shown.player is not None and latest is not None
                frame = self._clip_frame(latest[1], w, h)
                self.clip_frames += 1
        except (OSError, ValueError, av.FFmpegError) as exc:
            log.warning("content version %s not shown: %s", shown.version, exc)
            frame = None
        self._cache_key, self._cache = key, frame
        return frame

    def rgb_for(self, w: int, h: int) -> np.ndarray | None:
        """:meth:`frame_for` as an RGB array, for a compositor that paints RGB."""
        frame = self.frame_for(w, h)
        if frame is None:
            return None
        if self._rgb is not None and self._rgb[0] is frame:
            return self._rgb[1]
        rgb = frame.to_ndarray(format="rgb24")
        self._rgb = (frame, rgb)
        return rgb

    def _clip_frame(self, src: av.VideoFrame, w: int, h: int, interpolation: str = "BICUBIC") -> av.VideoFrame:
        size = fit(src.width, src.height, w, h)
        # Bicubic for moving pictures: sharp enough, and cheaper than Lanczos at 25 frames a second.
        # The render thread's own scaler: VideoFrame.reformat would build a SwsContext per frame.
        if size == (w, h):
            return self._scaler.reformat(src, width=w, height=h, format="yuv420p", interpolation=interpolation)
        rgb = self._scaler.reformat(src, width=size[0], height=size[1], format="rgb24",
                                    interpolation=interpolation).to_ndarray()
        return self._to_yuv.reformat(av.VideoFrame.from_ndarray(letterbox(rgb, w, h), format="rgb24"), format="yuv420p")

    # --- the MCU's render thread: one call each --------------------------------------------
    def add_to(self, frames: dict[str, tuple[int, av.VideoFrame]], tile: tuple[int, int] | None,
               request_keyframe: Callable[[], None]) -> None:
        """Put the content tile's frame among the sites' (a compositor that scales frames)."""
        if tile is None or not self.active:
            return
        frame = self.frame_for(*tile)
        if frame is not None:
            frames[channel.CONTENT] = (self.version, frame)
            if self.take_keyframe():
                request_keyframe()
