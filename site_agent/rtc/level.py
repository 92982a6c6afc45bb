"""The RFC 6464 audio level every aiortc sender writes into its packets, computed in numpy.

aiortc 1.16 ``RTCRtpSender._next_encoded_frame`` (src/aiortc/rtcrtpsender.py) calls
``aiortc.rtp.compute_audio_level_dbov(frame)`` for every audio frame it encodes, on the event
loop; that function walks the samples one by one in Python: 240 µs per 20 ms stereo frame,
0.012 cores of a district PC for a level the hub reads to draw its meters and to leave
unheard districts undecoded (``hub.media.audio_gate``). :func:`dbov` gives the same integer
for the same frame (the same formula: RFC 6465 Appendix A over the first plane, divided by
the samples per channel, as aiortc does) in 5 µs. :func:`install` puts it in aiortc's place;
``tests/site_agent/rtc/test_level.py`` compares the two on every kind of frame.
"""

from __future__ import annotations

import math

import av
import numpy as np
from aiortc import rtp

MAX_SAMPLE = 32767
MIN_LEVEL = -127  # RFC 6464: -127 dBov is silence


def dbov(frame: av.AudioFrame) -> int:
    """The frame's level in dBov, -127 (silence) to 0, as aiortc's ``compute_audio_level_dbov``."""
    samples = np.frombuffer(memoryview(frame.planes[0]), dtype=np.int16).astype(np.float64)
    energy = float(np.dot(samples, samples))
    rms = math.sqrt(energy / (frame.samples * MAX_SAMPLE * MAX_SAMPLE)) if frame.samples else 0.0
    if rms <= 0:
        return MIN_LEVEL
    return round(min(max(20 * math.log10(rms), MIN_LEVEL), 0))


def install() -> None:
    """Every aiortc sender in this process computes its audio level with :func:`dbov`."""
    # RTCRtpSender looks the function up on the module at each frame (``rtp.compute_...``).
    rtp.compute_audio_level_dbov = dbov
