"""A content clip played in the media worker: its pictures into the content tile, its sound into the mix.

The control process owns the play head (:class:`hub.content.model.Clip`): it
sends the position at an instant of ``time.monotonic()`` (CLOCK_MONOTONIC is
the same in every process of the machine) and whether the clip plays. Every
play, pause or seek replaces the :class:`ClipPlayer` with a new one at the
new position, so a player only ever runs forward.

Two threads per clip, each with its own demuxer (PyAV): one for the pictures,
one for the sound. An MP4's streams are interleaved in chunks that may be
longer than the audio read-ahead; one demuxer paced by the pictures would
starve the sound at each chunk boundary. Decoding and swscale/swresample
release the GIL, so neither thread holds up the event loop for long.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np

from hub.media.mixer import RATE, drain_chunk

log = logging.getLogger(__name__)

# Sound is decoded this far ahead of the play head; the mixer takes 20 ms at a time.
AUDIO_LEAD_S = 0.12
# Pictures up to this size (a playout made at upload: the content tile) decode on one thread.
SINGLE_THREAD_PIXELS = 1280 * 720
# Never hold more than this much sound (a stalled audio loop must not grow it forever).
AUDIO_MAX = RATE // 2


class ClipPlayer:
    """One clip from ``position_s`` (true at monotonic ``at``), playing or paused.

    Paused: the picture at the position is decoded once and held, no sound.
    """

    def __init__(self, path: Path, position_s: float, at: float, playing: bool, duration_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self.start_s = max(0.0, position_s)
        self.at = at
        self.playing = playing
        self.duration_s = duration_s
        self.clock = clock
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._frame: av.VideoFrame | None = None
        self.frame_seq = 0
        self._audio: collections.deque[np.ndarray] = collections.deque()
        self._audio_count = 0
        self.errors = 0
        self._threads = [threading.Thread(target=self._video, name="clip-video", daemon=True)]
        if playing:
            self._threads.append(threading.Thread(target=self._sound, name="clip-audio", daemon=True))
        for thread in self._threads:
            thread.start()

    def position(self) -> float:
        if not self.playing:
            return self.start_s
        return min(self.duration_s or float("inf"), self.start_s + max(0.0, self.clock() - self.at))

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            self._audio.clear()
            self._audio_count = 0

    def join(self, timeout: float = 2.0) -> None:
        for thread in self._threads:
            thread.join(timeout)

    # --- what the MCU reads ----------------------------------------------------------------
    def latest(self) -> tuple[int, av.VideoFrame] | None:
        """The picture due now and its sequence number (render thread)."""
        frame = self._frame
        return (self.frame_seq, frame) if frame is not None else None

    def audio_chunk(self) -> np.ndarray | None:
        """20 ms of the clip's sound (mono float, ±32768) or None when there is none (event loop)."""
        with self._lock:
            if not self._audio:
                return None
            out, taken = drain_chunk(self._audio)
            self._audio_count -= taken
            return out

    # --- the threads -------------------------------------------------------------------------
    def _wait_until(self, t: float) -> bool:
        """Sleep until the play head reaches ``t``; False when stopped meanwhile."""
        while not self._stop.is_set():
            ahead = t - self.position()
            if ahead <= 0:
                return True
            self._stop.wait(min(ahead, 0.05))
        return False

    def _open(self) -> av.container.InputContainer:
        container = av.open(str(self.path), "r")
        if self.start_s > 0:
            # backward to the keyframe before the position; frames before it are skipped below
            container.seek(int(self.start_s * av.time_base), backward=True, any_frame=False)
        return container

    def _video(self) -> None:
        try:
            with self._open() as container:
                if not container.streams.video:
                    return
                stream = container.streams.video[0]
                ctx = stream.codec_context
                if ctx.width * ctx.height > SINGLE_THREAD_PIXELS:
                    stream.thread_type = "AUTO"  # a big original (uploaded before playouts) needs the cores
                else:
                    # a tile-sized playout: one decoder thread costs less CPU than frame threads (0.91
                    # against 1.08 ms a frame) and holds no frames back
                    stream.thread_count = 1
                for frame in container.decode(stream):
                    if self._stop.is_set():
                        return
                    t = frame.time
                    if t is None:
                        continue
                    if t + 1e-3 < self.start_s:
                        # before a seek's target: keep the last such frame in case the
                        # target lies past the final frame
                        self._frame = self._frame or frame
                        continue
                    if not self.playing:
                        self._show(frame)
                        return
                    if not self._wait_until(t):
                        return
                    self._show(frame)
        except (av.FFmpegError, OSError) as exc:
            self.errors += 1
            log.warning("clip %s: pictures stopped: %s", self.path.name, exc)

    def _show(self, frame: av.VideoFrame) -> None:
        self._frame = frame
        self.frame_seq += 1

    def _sound(self) -> None:
        try:
            with self._open() as container:
                if not container.streams.audio:
                    return
                stream = container.streams.audio[0]
                resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
                for frame in container.decode(stream):
                    if self._stop.is_set():
                        return
                    t = frame.time
                    if t is None:
                        continue
                    end = t + frame.samples / max(1, frame.sample_rate)
                    if end <= self.start_s:
                        continue
                    if not self._wait_until(t - AUDIO_LEAD_S):
                        return
                    for out in resampler.resample(frame):
                        samples = out.to_ndarray().reshape(-1).astype(np.float32)
                        if t < self.start_s:  # the first frame after a seek: from the position on
                            samples = samples[int((self.start_s - t) * RATE):]
                        self._push(samples)
        except (av.FFmpegError, OSError) as exc:
            self.errors += 1
            log.warning("clip %s: sound stopped: %s", self.path.name, exc)

    def _push(self, samples: np.ndarray) -> None:
        with self._lock:
            if self._stop.is_set():
                return
            self._audio.append(samples)
            self._audio_count += samples.size
            while self._audio_count > AUDIO_MAX and self._audio:
                self._audio_count -= self._audio.popleft().size
