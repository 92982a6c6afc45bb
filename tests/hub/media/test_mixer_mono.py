"""A decoded frame to mono: the mean of its channels, packed or planar (the mixer's per-frame step)."""

from __future__ import annotations

import av
import numpy as np
import pytest

from hub.media.mixer import to_mono


def frame_of(left: np.ndarray, right: np.ndarray | None, fmt: str) -> av.AudioFrame:
    if right is None:
        data = left.reshape(1, -1)
        layout = "mono"
    elif fmt == "s16p":
        data = np.vstack([left, right])
        layout = "stereo"
    else:
        data = np.column_stack([left, right]).reshape(1, -1)
        layout = "stereo"
    frame = av.AudioFrame.from_ndarray(data, format=fmt, layout=layout)
    frame.sample_rate = 48_000
    return frame


@pytest.mark.parametrize("fmt", ["s16", "s16p"])
def test_stereo_becomes_the_mean_of_both_channels(fmt: str) -> None:
    rng = np.random.default_rng(7)
    left = rng.integers(-32768, 32767, 960, dtype=np.int16)
    right = rng.integers(-32768, 32767, 960, dtype=np.int16)
    if fmt == "s16p":  # the mixer accepts only aiortc's packed s16: planar is refused
        with pytest.raises(ValueError, match="expected s16"):
            to_mono(frame_of(left, right, fmt))
        return
    mono = to_mono(frame_of(left, right, fmt))
    assert mono.dtype == np.float32 and mono.shape == (960,)
    assert np.allclose(mono, (left.astype(np.float64) + right) / 2, atol=1e-3)


def test_mono_is_kept_as_it_is() -> None:
    samples = np.arange(-480, 480, dtype=np.int16) * 60
    mono = to_mono(frame_of(samples, None, "s16"))
    assert np.array_equal(mono, samples.astype(np.float32))
