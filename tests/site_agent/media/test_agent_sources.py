"""The agent's media sources: synthetic ones, a real FFmpeg device scaled to the hub's send profile.

The "device" is FFmpeg's lavfi test source, opened through the same PyAV/aiortc path
(site_agent.devices.open_device) as a v4l2 or DirectShow camera: no camera is needed.
"""

from __future__ import annotations

import asyncio

import av
import numpy as np
import pytest
from pydantic import ValidationError

from site_agent import protocol as p
from site_agent.devices import Device, open_device
from site_agent.media.endpoint import (
    MediaEndpoint,
    Profile,
    SyntheticCamera,
    ToneSource,
    decode_stamp,
    demo_tone_hz,
    encode_stamp,
)


async def test_synthetic_camera_obeys_profile_and_moves() -> None:
    cam = SyntheticCamera("หนองวัวซอ", Profile(320, 180, 25))
    a = (await cam.recv()).to_ndarray(format="rgb24")
    b = (await cam.recv()).to_ndarray(format="rgb24")
    assert a.shape == (180, 320, 3)
    assert not np.array_equal(a, b)  # the moving bar / counter: a live picture, not a still
    assert a.std() > 10  # a slate with text, not a flat colour
    cam.profile = Profile(160, 90, 15)  # the hub asks for a thumbnail
    c = (await cam.recv()).to_ndarray(format="rgb24")
    assert c.shape == (90, 160, 3)
    cam.stop()


async def test_tone_source_frames() -> None:
    tone = ToneSource(1000.0)
    frame = await tone.recv()
    samples = frame.to_ndarray().reshape(-1).astype(np.float64)
    assert (frame.sample_rate, samples.size) == (48_000, 960)
    spectrum = np.abs(np.fft.rfft(samples))
    assert abs(np.argmax(spectrum) * 48_000 / 960 - 1000) <= 50
    tone.stop()


def test_stamp_round_trip_survives_scaling() -> None:
    img = np.full((720, 1280, 3), 90, dtype=np.uint8)
    encode_stamp(img, 0xC0FFEE42)
    small = img[::4, ::4]  # a 320×180 thumbnail of it
    assert decode_stamp(img) == 0xC0FFEE42
    assert decode_stamp(small) == 0xC0FFEE42


def test_profile_bounds() -> None:
    assert Profile.of(p.MediaProfile(width=641, height=361, fps=25, kbps=300)) == Profile(640, 360, 25, 300)
    with pytest.raises(ValidationError, match="width"):
        p.MediaProfile(width=10000, height=100, fps=25, kbps=300)  # refused by the protocol, before the agent


def test_demo_tones_are_distinct() -> None:
    tones = {demo_tone_hz(f"UDN{i:02d}") for i in range(21)}
    assert len(tones) == 21


async def test_a_real_device_is_sent_at_the_hubs_profile() -> None:
    """A 640×360 camera (lavfi through FFmpeg) leaves the agent at the size the hub asked for."""
    camera = open_device(Device("video", "lavfi test camera", "lavfi", "testsrc=size=640x360:rate=10"))
    endpoint = MediaEndpoint("หนองวัวซอ", camera=camera)
    try:
        await endpoint.offer(Profile(320, 180, 10, 300), conference_id=7)  # what the hub's join does
        assert endpoint.camera is not None
        sizes = []
        for _ in range(3):
            frame = await asyncio.wait_for(endpoint.camera.recv(), 10)
            assert isinstance(frame, av.VideoFrame)
            sizes.append((frame.width, frame.height))
            picture = frame.to_ndarray(format="rgb24")
        assert sizes == [(320, 180)] * 3
        assert picture.std() > 20  # testsrc's colour bars, not a black or flat frame
        endpoint.set_profile(Profile(160, 90, 10, 100))  # the hub's send_profile: now a thumbnail
        for _ in range(5):  # a frame or two may already be on its way at the old size
            frame = await asyncio.wait_for(endpoint.camera.recv(), 10)
        assert isinstance(frame, av.VideoFrame) and (frame.width, frame.height) == (160, 90)
    finally:
        await endpoint.close()
        camera.stop()
        endpoint.microphone.stop()


def test_live_encoder_obeys_the_profile_bitrate() -> None:
    import fractions

    import av

    from site_agent.media.endpoint import LiveH264Encoder

    def run(kbps: int) -> int:
        enc = LiveH264Encoder(lambda: Profile(320, 180, 15, kbps))
        rng = np.random.default_rng(1)
        total = 0
        for i in range(45):  # 3 s of a busy picture
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 255, (180, 320, 3), dtype=np.uint8), format="rgb24")
            frame.pts, frame.time_base = i * 6000, fractions.Fraction(1, 90_000)
            payloads, _ = enc.encode(frame, force_keyframe=(i == 0))
            total += sum(len(p) for p in payloads)
        return total * 8 // 3 // 1000  # kbit/s

    low, high = run(100), run(1000)
    assert low < 250, low  # rate control holds near the ceiling (noise is the worst case)
    assert high > 2 * low
