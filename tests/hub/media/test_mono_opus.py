"""The decoder lanes decode Opus to mono in libopus: the same sound as stereo averaged, cheaper."""

from __future__ import annotations

import fractions
import threading
from types import SimpleNamespace

import av
import numpy as np

from hub.media.decoding import Inbox, MonoOpusDecoder
from hub.media.mixer import to_mono

RATE = 48_000


def _stereo_packets(seconds: float = 1.0) -> list[SimpleNamespace]:
    """A district's stereo Opus (440 Hz left, 660 Hz right), as the jitter buffer hands it on."""
    enc = av.CodecContext.create("libopus", "w")
    enc.bit_rate, enc.format, enc.layout, enc.sample_rate = 96_000, "s16", "stereo", RATE
    enc.time_base = fractions.Fraction(1, RATE)
    t = np.arange(int(RATE * seconds)) / RATE
    left = (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)
    right = (np.sin(2 * np.pi * 660 * t) * 6000).astype(np.int16)
    out = []
    for i in range(len(t) // 960):
        chunk = np.stack([left[i * 960:(i + 1) * 960], right[i * 960:(i + 1) * 960]], axis=1).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(chunk, format="s16", layout="stereo")
        frame.sample_rate, frame.pts = RATE, i * 960
        out += [SimpleNamespace(data=bytes(p), timestamp=int(p.pts or 0)) for p in enc.encode(frame)]
    return out


def _stereo_decode(packets: list[SimpleNamespace]) -> list[av.AudioFrame]:
    dec = av.CodecContext.create("libopus", "r")
    dec.format, dec.layout, dec.sample_rate = "s16", "stereo", RATE
    frames: list[av.AudioFrame] = []
    for p in packets:
        packet = av.Packet(p.data)
        packet.pts, packet.time_base = p.timestamp, fractions.Fraction(1, RATE)
        frames += dec.decode(packet)
    return frames


def test_mono_is_the_mean_of_the_stereo_channels_with_the_same_clock() -> None:
    packets = _stereo_packets()
    mono: list[av.AudioFrame] = []
    decoder = MonoOpusDecoder()
    for p in packets:
        mono += decoder.decode(p)
    stereo = _stereo_decode(packets)
    assert len(mono) == len(stereo) > 40
    assert all(f.layout.name == "mono" and f.format.name == "s16" and f.sample_rate == RATE for f in mono)
    assert [f.pts for f in mono] == [f.pts for f in stereo]  # the mixer's gap count reads pts
    got = np.concatenate([to_mono(f) for f in mono])
    want = np.concatenate([to_mono(f) for f in stereo])
    assert np.abs(got - want).max() <= 1.0  # libopus's own downmix: rounding apart
    assert np.abs(want).max() > 3000  # the tones are there, not two silences that agree


def test_a_lane_decodes_a_districts_opus_to_mono() -> None:
    inbox = Inbox(lane=None, out=None, decode_error=threading.Event(), kind="audio")  # type: ignore[arg-type]
    frames = [f for p in _stereo_packets(0.2) for f in inbox.decode(SimpleNamespace(name="opus"), p)]
    assert frames and {f.layout.name for f in frames} == {"mono"} and inbox.decoded == len(frames)
