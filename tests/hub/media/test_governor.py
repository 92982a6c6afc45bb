"""The program's bitrate under overload (hub.media.governor) and the encoder taking a new one.

The governor is pure: fed times and counts. The encoder part is the real libx264 and a real
decoder: after a new bitrate the stream keeps decoding, starts again at a keyframe, and
carries about the new rate.
"""

from __future__ import annotations

import av
import numpy as np

from hub.media.encoder import SharedVideoEncoder
from hub.media.governor import BitrateGovernor


def test_steps_down_while_senders_lag_and_back_up_when_calm() -> None:
    g = BitrateGovernor(2500)
    assert g.observe(0.0, 0, 20) is None and g.current == 2500
    assert g.observe(1.0, 1, 20) is None  # one district's sender alone: not the worker's load
    assert g.observe(2.0, 5, 20) == 1750
    assert g.observe(3.0, 5, 20) is None  # each step costs a keyframe: not twice in 2 s
    assert g.observe(4.0, 5, 20) == 1250
    assert g.observe(6.0, 20, 20) is None  # never below half
    assert g.current == 1250 and g.steps_down == 2
    assert g.observe(20.0, 0, 20) is None  # calm, but not for 20 s since the last lag
    assert g.observe(26.1, 0, 20) == 1750
    assert g.observe(30.0, 0, 20) is None  # one step at a time
    assert g.observe(46.2, 0, 20) == 2500
    assert g.observe(80.0, 0, 20) is None and g.current == 2500


def test_one_site_lagging_counts_when_it_is_the_only_one() -> None:
    g = BitrateGovernor(1000)
    assert g.observe(5.0, 1, 1) == 700


def moving(i: int, w: int = 640, h: int = 360) -> np.ndarray:
    rng = np.random.default_rng(i // 5)
    img = rng.integers(0, 255, (h // 8, w // 8, 3), dtype=np.uint8).repeat(8, 0).repeat(8, 1)
    return np.roll(img, i * 7, axis=1)


def test_a_new_bitrate_starts_at_a_keyframe_and_the_stream_keeps_decoding() -> None:
    fps = 25
    enc = SharedVideoEncoder(640, 360, fps, kbps=1200)
    dec = av.CodecContext.create("h264", "r")
    sizes: list[int] = []
    decoded = 0
    first_after: bool | None = None
    for i in range(8 * fps):
        if i == 4 * fps:
            enc.set_kbps(400)
        packets = enc.encode(moving(i), i * 3600)
        if i == 4 * fps:
            first_after = any(p.is_keyframe for p in packets)
        sizes.append(sum(p.size for p in packets))
        for p in packets:
            decoded += len(dec.decode(av.Packet(bytes(p))))
    before = sum(sizes[fps:4 * fps]) * 8 / 3 / 1000
    after = sum(sizes[5 * fps:]) * 8 / 3 / 1000
    assert first_after, "the first frame at the new bitrate is a keyframe"
    assert enc.kbps == 400 and enc.reopened == 1
    assert 900 < before < 1500, before
    assert 250 < after < 550, after
    assert decoded >= 8 * fps - 2  # nothing lost across the switch
