"""Audio: mix the heard sites, mix-minus for the speakers, one common mix for everyone else.

Only the sites heard are decoded (hub.media.audio_gate); the others' levels come from their
packets' headers (:meth:`AudioMixer.hint_level`). Every 20 ms the mixer takes one chunk from
each decoded site's buffer. The *common*
mix is the sum of all audible sites; it is encoded ONCE and its packets go to
every site that is not audible. An audible site hears the common mix minus
its own voice (mix-minus), encoded for it alone — there are only a few of
those (the province, the floor holder, any mic the chair opened).

All encoders share one sample clock, so a site moved between the common mix
and its own mix-minus keeps continuous RTP timestamps.
"""

from __future__ import annotations

import fractions
import math
from collections import deque
from collections.abc import Callable

import av
import numpy as np

RATE = 48_000
CHUNK = 960  # 20 ms at 48 kHz, one Opus frame
TIME_BASE = fractions.Fraction(1, RATE)
MAX_BUFFER = RATE // 5  # 200 ms: beyond this a site's clock drifts ahead, drop the oldest
SILENCE_DBFS = -90.0
HINT_TICKS = 5  # a level read from a packet header (hub.media.audio_gate) stands for 100 ms


def level_dbfs(chunk: np.ndarray) -> float:
    """RMS level of a float chunk (full scale ±32768) in dBFS."""
    if chunk.size == 0:
        return SILENCE_DBFS
    rms = float(np.sqrt(np.mean(np.square(chunk, dtype=np.float64))))
    if rms <= 0:
        return SILENCE_DBFS
    return max(SILENCE_DBFS, 20 * math.log10(rms / 32768.0))


def to_mono(frame: av.AudioFrame) -> np.ndarray:
    """A decoded frame as mono float32 samples at 48 kHz."""
    if frame.sample_rate != RATE or frame.format.name != "s16":
        raise ValueError(f"expected s16 at {RATE} Hz, got {frame.format.name} at {frame.sample_rate}")
    data = frame.to_ndarray()
    channels = len(frame.layout.channels)
    # One row per channel (planar: as is; packed s16: a strided view, no copy). Summed in
    # place rather than ``astype(...).mean(axis=...)``: that was 78 µs a frame, 5 % of the
    # worker's event loop at 10 districts (py-spy, issue 17); this is ~20 µs.
    rows = data if frame.format.is_planar else data.reshape(-1, channels).T
    samples = rows[0].astype(np.float32)
    for row in rows[1:]:
        samples += row
    if channels > 1:
        samples *= 1.0 / channels
    return samples


class OpusStream:
    """One Opus encoder fed 20 ms mono chunks; emits packets on the shared clock.

    ``layout="stereo"`` encodes the chunk on both channels, as a district's agent sends
    its sound (aiortc encodes stereo): the benches' load generators use it.
    """

    def __init__(self, kbps: int = 48, layout: str = "mono") -> None:
        ctx = av.CodecContext.create("libopus", "w")
        ctx.sample_rate = RATE
        # The mix is mono: encoded as mono (a third less CPU than the same samples twice as
        # stereo); every Opus decoder plays a mono packet on a stereo "opus/48000/2" stream.
        ctx.layout = layout
        ctx.format = "s16"
        ctx.bit_rate = kbps * 1000
        ctx.time_base = TIME_BASE
        ctx.options = {"application": "voip", "frame_duration": "20"}
        self.ctx = ctx

    def encode(self, mono: np.ndarray, pts: int) -> list[av.Packet]:
        pcm = np.clip(mono, -32768, 32767).astype(np.int16)
        layout = self.ctx.layout.name
        if layout == "stereo":  # the same samples on both channels, interleaved (s16 is packed)
            pcm = np.repeat(pcm, 2)
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout=layout)
        frame.sample_rate = RATE
        frame.pts = pts
        frame.time_base = TIME_BASE
        packets = list(self.ctx.encode(frame))
        for p in packets:
            p.time_base = TIME_BASE
            # Opus has a fixed look-ahead; keep the shared clock as the RTP time.
            p.pts = pts
        return packets


def drain_chunk(samples: deque[np.ndarray]) -> tuple[np.ndarray, int]:
    """One CHUNK from the front of ``samples`` (silence where they run out), and how many
    samples it took; a partly used array stays at the front."""
    out = np.zeros(CHUNK, dtype=np.float32)
    filled = 0
    while filled < CHUNK and samples:
        head = samples[0]
        take = min(CHUNK - filled, head.size)
        out[filled : filled + take] = head[:take]
        filled += take
        if take == head.size:
            samples.popleft()
        else:
            samples[0] = head[take:]
    return out, filled


class SiteBuffer:
    def __init__(self) -> None:
        self.samples: deque[np.ndarray] = deque()
        self.count = 0
        self.level = SILENCE_DBFS
        self.hint = SILENCE_DBFS  # the last level its packets' headers gave (RFC 6464)
        self.hint_tick: int | None = None

    def push(self, samples: np.ndarray) -> None:
        self.samples.append(samples)
        self.count += samples.size
        while self.count > MAX_BUFFER and self.samples:
            self.count -= self.samples.popleft().size

    def pop(self) -> np.ndarray:
        """Exactly one chunk; silence where the site has not delivered (loss, late join)."""
        out, taken = drain_chunk(self.samples)
        self.count -= taken
        return out


class AudioMixer:
    """Pure mixing maths plus the encoders; the MCU drives :meth:`tick` every 20 ms."""

    def __init__(self) -> None:
        self.buffers: dict[str, SiteBuffer] = {}
        self.audible: set[str] = set()
        self.common = OpusStream()
        self.personal: dict[str, OpusStream] = {}
        self.pts = 0
        self.ticks = 0
        self.sources: list[Callable[[], np.ndarray | None]] = []  # extra sound (content clips), 20 ms per call
        self.tap: Callable[[np.ndarray], None] | None = None  # the recorder (issue 14): the full mix, 20 ms at a time

    def add_site(self, site: str) -> None:
        self.buffers.setdefault(site, SiteBuffer())

    def remove_site(self, site: str) -> None:
        self.buffers.pop(site, None)
        self.personal.pop(site, None)

    def push(self, site: str, samples: np.ndarray) -> None:
        buf = self.buffers.get(site)
        if buf is not None:
            buf.push(samples)

    def hint_level(self, site: str, dbfs: float) -> None:
        """A site's level from its packets' headers: what a site not heard shows (it is not decoded)."""
        buf = self.buffers.get(site)
        if buf is not None:
            buf.hint = dbfs
            buf.hint_tick = self.ticks

    def mix(self) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, float]]:
        """One chunk: (common mix, site → mix-minus for audible sites, levels)."""
        chunks: dict[str, np.ndarray] = {}
        levels = {}
        for site, buf in self.buffers.items():
            if site not in self.audible and buf.hint_tick is not None and self.ticks - buf.hint_tick <= HINT_TICKS:
                # not heard, its level known from the headers: nothing of it is mixed
                if buf.samples:
                    buf.samples.clear()
                    buf.count = 0
                level = buf.hint
            else:
                chunks[site] = chunk = buf.pop()
                level = level_dbfs(chunk)
            levels[site] = buf.level = level
        self.ticks += 1
        common = np.zeros(CHUNK, dtype=np.float32)
        heard = [s for s in chunks if s in self.audible]
        for site in heard:
            common += chunks[site]
        for source in self.sources:  # a content clip (issue 14): in the common mix and every mix-minus
            extra = source()
            if extra is not None:
                common += extra
        minus = {site: common - chunks[site] for site in heard}
        return common, minus, levels

    def tick(self) -> tuple[list[av.Packet], dict[str, list[av.Packet]], dict[str, float]]:
        """Mix and encode one chunk: common packets, personal packets per audible site, levels."""
        common, minus, levels = self.mix()
        if self.tap is not None:
            self.tap(common)
        pts = self.pts
        self.pts += CHUNK
        common_packets = self.common.encode(common, pts)
        personal: dict[str, list[av.Packet]] = {}
        for site, samples in minus.items():
            enc = self.personal.get(site)
            if enc is None:
                enc = self.personal[site] = OpusStream()
            personal[site] = enc.encode(samples, pts)
        # Encoders of sites no longer heard are dropped so they restart clean.
        for site in list(self.personal):
            if site not in minus:
                del self.personal[site]
        return common_packets, personal, levels

    def loudest(self, levels: dict[str, float], threshold_dbfs: float = -45.0) -> str | None:
        heard = [(lvl, s) for s, lvl in levels.items() if s in self.audible and lvl > threshold_dbfs]
        return max(heard)[1] if heard else None
