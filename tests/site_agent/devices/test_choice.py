"""One device choice: the self-test tests the camera and microphone the briefing then sends.

The "devices" are FFmpeg's lavfi sources (a red and a blue picture, a sine), opened through
the same PyAV/aiortc paths as a v4l2 or DirectShow device: no camera is needed on the test box.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import av
import numpy as np

from site_agent.clerk.selftest import real_inputs
from site_agent.client import AgentClient
from site_agent.config import AgentConfig
from site_agent.devices import Device, choose_devices, pick_device
from site_agent.media.endpoint import Profile, install_for_agent

WEBCAM = Device("video", "Integrated Webcam", "lavfi", "color=c=red:size=160x90:rate=10")
C920 = Device("video", "Logitech C920", "lavfi", "color=c=blue:size=160x90:rate=10")
JABRA = Device("audio", "Jabra Speak 510", "lavfi", "sine=frequency=440:sample_rate=48000")
PLUGGED = [WEBCAM, C920, JABRA]


def _colour(rgb: np.ndarray) -> str:
    r, g, b = (float(rgb[..., i].mean()) for i in range(3))
    return "red" if r > 150 > b else "blue" if b > 150 > r else f"rgb({r:.0f},{g:.0f},{b:.0f})"


def _config(tmp_path: Path, remembered: dict[str, str]) -> AgentConfig:
    config = AgentConfig(
        hub_url="http://127.0.0.1:9", site="UDN07", token="t" * 32, config_dir=tmp_path,
        name_th="หนองวัวซอ", extra={"devices": remembered},
    )
    config.save()
    return config


async def _selftest_camera(config: AgentConfig) -> tuple[str, dict[str, str]]:
    inputs = real_inputs(config.hub_url, None, preferred=config.extra["devices"], devices=PLUGGED)
    assert inputs.camera is not None
    frames = await asyncio.to_thread(inputs.camera.grab, 3, 5.0)
    return _colour(frames[-1]), inputs.extra["devices"]


async def _briefing_camera(config: AgentConfig) -> str:
    endpoint = install_for_agent(AgentClient(config), devices=PLUGGED)
    try:
        await endpoint.offer(Profile(160, 90, 10, 300))  # what the hub's join does
        assert endpoint.camera is not None
        frame = await asyncio.wait_for(endpoint.camera.recv(), 10)
        assert isinstance(frame, av.VideoFrame)
        return _colour(frame.to_ndarray(format="rgb24"))
    finally:
        await endpoint.close()
        # The capture threads end when their tracks stop (aiortc's MediaPlayer joins them).
        if endpoint.camera is not None:
            endpoint.camera.stop()
        endpoint.microphone.stop()


async def test_selftest_and_briefing_capture_the_remembered_camera(tmp_path: Path) -> None:
    config = _config(tmp_path, {"video": "Logitech C920"})  # passed a self-test earlier
    tested, chosen = await _selftest_camera(config)
    assert tested == "blue"
    assert chosen == {"video": "Logitech C920", "audio": "Jabra Speak 510"}
    assert await _briefing_camera(config) == "blue"  # was the first camera found: red


async def test_an_unplugged_remembered_camera_falls_back_to_the_same_first_one(tmp_path: Path) -> None:
    config = _config(tmp_path, {"video": "USB camera taken to another room"})
    tested, chosen = await _selftest_camera(config)
    assert tested == "red" and chosen["video"] == "Integrated Webcam"
    assert await _briefing_camera(config) == "red"


def test_pick_device_prefers_the_remembered_one() -> None:
    devices = [
        Device("video", "Integrated Webcam", "v4l2", "/dev/video0"),
        Device("video", "Logitech C920", "v4l2", "/dev/video2"),
        Device("audio", "Jabra Speak 510", "pulse", "jabra"),
    ]
    assert pick_device(devices, "video", "Logitech C920") == devices[1]
    assert pick_device(devices, "video", "unplugged cam") == devices[0]
    assert pick_device(devices, "audio", None) == devices[2]
    assert pick_device(devices[:2], "audio", None) is None
    choice = choose_devices({"audio": "Jabra Speak 510"}, devices[:2])
    assert choice.video == devices[0] and choice.audio is None and choice.names() == {"video": "Integrated Webcam"}
