"""Recording the program in the media worker: the districts' own H.264 packets, remuxed, plus the full mix.

Per recording one file, written by PyAV on a thread of its own (the render
thread and the event loop only hand over copies): a **fragmented MP4** — the
shared encoder's H.264 packets *as sent to every district*, remuxed without
re-encoding, and AAC of the full mix (the common mix: every audible site).
``empty_moov`` puts the header first and each fragment carries its own index,
so a worker killed mid-recording leaves a file that plays up to its last
complete fragment. The GOP is 10 s, so ``frag_duration`` also cuts a fragment
every second (``frag_keyframe`` alone would put up to 10 s at risk).

The MP3 is not made here: the hub makes it from the finished MP4's sound
(hub.recording.service), after the briefing and outside the media worker.
Encoding it live was half of the recorder's CPU (libmp3lame 0.018–0.025 cores
against AAC's 0.009–0.016), spent while the worker serves the districts.

The recording starts at a keyframe (one is requested), so the first packet in
the file decodes on its own; audio starts with it, so both streams share t=0.
Free space is checked every second: below the threshold the recording stops
cleanly (files closed, valid) and says why (``reason="disk_full"``).
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import io
import logging
import queue
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import av
import numpy as np

from hub.media import channel
from hub.media.encoder import SharedVideoEncoder
from hub.media.mixer import AudioMixer

log = logging.getLogger(__name__)

VIDEO_TB = fractions.Fraction(1, 90_000)
RATE = 48_000
AUDIO_TB = fractions.Fraction(1, RATE)
MOVFLAGS = "frag_keyframe+empty_moov+default_base_moof"
FRAGMENT_US = 1_000_000  # a fragment at least every second: what a crash can lose
DISK_CHECK_S = 1.0
MAX_QUEUE = 2000  # ~40 s of audio chunks plus frames: a stuck disk must not grow the worker without bound
GAP_CHUNK = 960  # 20 ms
MAX_GAP_S = 10  # a longer hole is not filled in one go (the next chunks catch up)
# The writer wakes this often and takes everything queued: ~10 wake-ups and AAC encodes a
# second instead of one per 20 ms chunk and per picture, which cost the thread a third more
# CPU in a worker whose other threads hold the GIL (measured with 2 and 20 districts).
BATCH_S = 0.1


def annexb_nals(data: bytes) -> list[bytes]:
    """The NAL units of an Annex-B buffer (3- or 4-byte start codes)."""
    out: list[bytes] = []
    i, n = 0, len(data)
    starts: list[int] = []
    while i + 3 <= n:
        if data[i] == 0 and data[i + 1] == 0 and data[i + 2] == 1:
            starts.append(i + 3)
            i += 3
        else:
            i += 1
    for k, s in enumerate(starts):
        end = starts[k + 1] - 3 if k + 1 < len(starts) else n
        nal = data[s:end]
        if k + 1 < len(starts) and nal.endswith(b"\x00"):
            nal = nal[:-1]  # the leading zero of the next 4-byte start code
        if nal:
            out.append(nal)
    return out


@dataclass
class _Video:
    data: bytes
    pts: int
    key: bool
    at: float  # time.monotonic() when encoded


@dataclass
class _Audio:
    samples: np.ndarray
    at: float  # time.monotonic() when mixed


class ProgramRecorder:
    """One recording: started by :meth:`start`, fed by the taps, closed by :meth:`stop` (blocking)."""

    def __init__(self, recording_id: int, mp4: Path, *, fps: int, min_free_bytes: int) -> None:
        self.recording_id = recording_id
        self.mp4_path = mp4
        self.fps = fps
        self.min_free_bytes = min_free_bytes
        self._queue: queue.Queue[_Video | _Audio | None] = queue.Queue(MAX_QUEUE)
        self._thread = threading.Thread(target=self._run, name=f"recorder-{recording_id}", daemon=True)
        self.active = False
        self.reason = ""  # why it stopped: stopped | disk_full | write_error | overflow
        self.error = ""
        self.video_packets = 0
        self.audio_samples = 0
        self.dropped = 0
        self.cpu_s = 0.0  # the writer thread's own CPU time (encode AAC, mux, write)
        self._first_pts: int | None = None
        self._first_at = 0.0
        self.silence_samples = 0  # filled where the mixer's 20 ms clock fell behind
        self._last_pts = 0
        self._mp4: Any = None
        self._vs: Any = None
        self._aac: Any = None
        self._pcm: list[np.ndarray] = []  # mixed sound not yet encoded (one AAC call per batch)
        self._pcm_pts = 0
        self._done = threading.Event()

    # --- taps (render thread / event loop): copies only, never block -----------------------------
    def video(self, packet: av.Packet) -> None:
        if not self.active:
            return
        # bytes(): the senders keep the same av.Packet; the muxer must not touch it.
        self._put(_Video(bytes(packet), int(packet.pts or 0), bool(packet.is_keyframe), time.monotonic()))

    def audio(self, mono: np.ndarray) -> None:
        if self.active:
            self._put(_Audio(mono.copy(), time.monotonic()))

    def _put(self, item: _Video | _Audio) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.dropped += 1

    # --- lifetime ----------------------------------------------------------------------------------
    def start(self) -> None:
        self.mp4_path.parent.mkdir(parents=True, exist_ok=True)
        self.active = True
        self._thread.start()

    def stop(self, reason: str = "stopped") -> dict[str, Any]:
        """Drain, close the file, return the figures (blocks: call from a thread)."""
        if self.active:
            self.active = False
            self.reason = self.reason or reason
            with contextlib.suppress(queue.Full):
                self._queue.put(None, timeout=5)
        self._done.wait(30)
        return self.info()

    @property
    def duration_s(self) -> float:
        if self._first_pts is None:
            return 0.0
        return round((self._last_pts - self._first_pts) / 90_000 + 1 / self.fps, 3)

    def info(self) -> dict[str, Any]:
        return {"recording_id": self.recording_id, "active": self.active, "reason": self.reason,
                "error": self.error, "started": self._first_pts is not None,
                "video_packets": self.video_packets, "audio_s": round(self.audio_samples / RATE, 3),
                "duration_s": self.duration_s, "dropped": self.dropped,
                "silence_s": round(self.silence_samples / RATE, 3), "cpu_s": round(self.cpu_s, 4),
                "mp4": str(self.mp4_path)}

    # --- the writer thread -------------------------------------------------------------------------
    def _open(self, first: _Video) -> None:
        # The stream's parameters (size, SPS/PPS as extradata) come from parsing the first
        # keyframe itself: the MP4's header then describes exactly the packets that follow.
        probe = av.open(io.BytesIO(first.data), format="h264")
        template = probe.streams.video[0]
        self._mp4 = av.open(str(self.mp4_path), "w", format="mp4",
                            options={"movflags": MOVFLAGS, "frag_duration": str(FRAGMENT_US),
                                     # each fragment reaches the file at once, not when the 32 KB
                                     # I/O buffer fills: what a SIGKILL leaves is what was written
                                     "flush_packets": "1"})
        self._vs = self._mp4.add_stream_from_template(template)
        self._vs.time_base = VIDEO_TB
        probe.close()
        # Speech at 96 kbit/s mono: FFmpeg's fast AAC coder costs a quarter of the default's CPU
        # (measured: 0.037 → 0.009 cores).
        self._aac = self._mp4.add_stream("aac", rate=RATE, layout="mono", options={"aac_coder": "fast"})
        self._aac.bit_rate = 96_000
        self._first_pts = first.pts
        self._first_at = first.at

    def _write_video(self, v: _Video) -> None:
        if self._first_pts is None:
            if not v.key:
                return  # a decoder cannot start from a delta frame: wait for the keyframe asked for
            self._open(v)
        assert self._first_pts is not None
        pts = max(v.pts - self._first_pts, self._last_pts - self._first_pts + 1 if self.video_packets else 0)
        packet = av.Packet(v.data)
        packet.pts = packet.dts = pts
        packet.time_base = VIDEO_TB
        packet.is_keyframe = v.key
        packet.stream = self._vs
        self._mp4.mux(packet)
        self._last_pts = pts + self._first_pts
        self.video_packets += 1

    def _write_audio(self, chunk: _Audio) -> None:
        if self._first_pts is None:
            return  # audio starts with the first picture
        # The picture's clock is the wall clock; the mixer's 20 ms ticks are dropped when the
        # worker's event loop falls behind (a loaded host). Those gaps become silence here,
        # so the sound stays in step with the picture instead of drifting earlier.
        behind = int((chunk.at - self._first_at) * RATE) - self.audio_samples
        if behind > 2 * GAP_CHUNK:
            gap = min(behind, MAX_GAP_S * RATE)
            self.silence_samples += gap
            for start in range(0, gap, GAP_CHUNK):
                self._encode_pcm(np.zeros((1, min(GAP_CHUNK, gap - start)), np.int16))
        self._encode_pcm(np.clip(chunk.samples, -32768, 32767).astype(np.int16).reshape(1, -1))

    def _encode_pcm(self, pcm: np.ndarray) -> None:
        if not self._pcm:
            self._pcm_pts = self.audio_samples
        self._pcm.append(pcm)
        self.audio_samples += pcm.shape[1]  # counted now: the gap check above reads it

    def _flush_pcm(self) -> None:
        if not self._pcm:
            return
        pcm = self._pcm[0] if len(self._pcm) == 1 else np.concatenate(self._pcm, axis=1)
        self._pcm = []
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = self._pcm_pts
        frame.time_base = AUDIO_TB
        for p in self._aac.encode(frame):
            self._mp4.mux(p)

    def _close(self) -> None:
        if self._aac is not None and self._mp4 is not None:
            try:
                self._flush_pcm()
                for p in self._aac.encode(None):
                    self._mp4.mux(p)
            except (av.FFmpegError, OSError, ValueError) as exc:
                self.error = self.error or str(exc)
        if self._mp4 is not None:
            try:
                self._mp4.close()
            except (av.FFmpegError, OSError) as exc:
                self.error = self.error or str(exc)

    def _disk_low(self) -> bool:
        try:
            return shutil.disk_usage(self.mp4_path.parent).free < self.min_free_bytes
        except OSError:
            return False

    def _run(self) -> None:
        next_check = 0.0
        try:
            while True:
                now = time.monotonic()
                if now >= next_check:
                    next_check = now + DISK_CHECK_S
                    if self._disk_low():
                        self.reason = "disk_full"
                        self.active = False
                        break
                self.cpu_s = time.thread_time()
                try:
                    item = self._queue.get(timeout=0.25)
                except queue.Empty:
                    continue
                if item is None:
                    break
                if isinstance(item, _Video):
                    self._write_video(item)
                else:
                    self._write_audio(item)
                if self._queue.empty():
                    if self._aac is not None:
                        self._flush_pcm()
                    time.sleep(BATCH_S)
        except (av.FFmpegError, OSError, ValueError) as exc:
            log.error("recording %s failed: %s", self.recording_id, exc)
            self.error = str(exc)
            self.reason = "disk_full" if self._disk_low() else "write_error"
            self.active = False
        finally:
            self._close()
            self.cpu_s = time.thread_time()
            self._done.set()


class MCU(Protocol):
    """What the recording ops need of hub.media.mcu.MCU (which imports this module)."""

    fps: int
    recorder: ProgramRecorder | None
    encoder: SharedVideoEncoder
    mixer: AudioMixer

    def request_keyframe(self) -> None: ...


def _info(rec: ProgramRecorder | None) -> channel.RecordingInfo:
    if rec is None:
        return channel.RecordingInfo(active=False)
    return channel.RecordingInfo.model_validate(rec.info())


def _detach(mcu: MCU) -> None:
    mcu.encoder.tap = None
    mcu.mixer.tap = None


async def handle(mcu: MCU, op: channel.StartRecording | channel.StopRecording | channel.RecordingStatus,
                 ) -> channel.RecordingInfo:
    """The worker's recording ops (see :mod:`hub.media.channel`)."""
    rec = mcu.recorder
    if isinstance(op, channel.StartRecording):
        if rec is not None and rec.active:
            raise ValueError(f"recording {rec.recording_id} is already running")
        rec = ProgramRecorder(op.recording_id, Path(op.mp4), fps=mcu.fps, min_free_bytes=op.min_free_bytes)
        rec.start()
        mcu.recorder = rec
        mcu.encoder.tap = rec.video
        mcu.mixer.tap = rec.audio
        mcu.request_keyframe()  # start the file at a keyframe, now rather than at the next GOP
        return _info(rec)
    if isinstance(op, channel.StopRecording):
        if rec is None or (op.recording_id is not None and rec.recording_id != op.recording_id):
            return _info(None)
        _detach(mcu)
        info = await asyncio.to_thread(rec.stop)
        return channel.RecordingInfo.model_validate(info)
    if rec is not None and not rec.active:
        _detach(mcu)  # stopped by itself (disk full, write error): the taps go quiet
    return _info(rec)


def close_on_exit(mcu: MCU) -> None:
    """The worker is stopping: close a running recording so its files end cleanly."""
    rec = mcu.recorder
    if rec is not None:
        _detach(mcu)
        rec.stop("worker_stopped")
