"""The numpy audio level gives aiortc's integer for every kind of frame.

That the agents send it, and that the hub reads it as the same level it decodes, is
``tests/hub/media/test_audio_gate.py``'s real-agent test."""

from __future__ import annotations

import math
import struct

import av
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from site_agent.rtc import level


def _aiortc_reference(frame: av.AudioFrame) -> int:
    """aiortc 1.16's loop, restated here so the comparison holds after install()."""
    rms = 0.0
    for (sample,) in struct.Struct("h").iter_unpack(bytes(frame.planes[0])):
        rms += sample * sample
    rms = math.sqrt(rms / (frame.samples * 32767 * 32767))
    return round(min(max(20 * math.log10(rms), -127), 0)) if rms > 0 else -127


def _frame(pcm: np.ndarray, layout: str) -> av.AudioFrame:
    frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout=layout)
    frame.sample_rate = 48_000
    return frame


@settings(max_examples=60, deadline=None)
@given(layout=st.sampled_from(["mono", "stereo"]), samples=st.sampled_from([160, 480, 960]),
       amplitude=st.integers(0, 32767), seed=st.integers(0, 2**16))
def test_the_same_level_as_aiortc(layout: str, samples: int, amplitude: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    channels = 2 if layout == "stereo" else 1
    pcm = (rng.uniform(-1, 1, samples * channels) * amplitude).astype(np.int16)
    frame = _frame(pcm, layout)
    assert level.dbov(frame) == _aiortc_reference(frame)


@pytest.mark.parametrize(("value", "expected"), [(0, -127), (32767, 0), (-32768, 0), (1, -90)])
def test_silence_full_scale_and_the_quietest(value: int, expected: int) -> None:
    frame = _frame(np.full(960, value, dtype=np.int16), "mono")
    assert level.dbov(frame) == expected == _aiortc_reference(frame)
