"""Media test kit (imported by conftest and the tests): a real media worker process and real aiortc endpoints on loopback.

Small pictures (a 320×180 program, 160×90 sources) keep the suite fast on two
cores; the layouts are the same 1280×720 geometry scaled down.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import av
import numpy as np
import pytest

from hub.conferences.conference import Conference
from hub.conferences.layout import CANVAS_H, CANVAS_W
from hub.media import channel
from hub.media.client import MediaWorker
from site_agent.media.endpoint import MediaEndpoint, Profile

PROGRAM_W, PROGRAM_H = 320, 180
SOURCE = Profile(160, 90, 15)

COLOURS: dict[str, tuple[int, int, int]] = {
    "UDN00": (220, 30, 30),  # province: red
    "UDN01": (30, 200, 30),  # green
    "UDN02": (30, 30, 220),  # blue
    "UDN03": (230, 220, 30),  # yellow
    "UDN04": (200, 30, 200),  # magenta
    "UDN05": (30, 210, 210),  # cyan
}
TONES: dict[str, float] = {
    "UDN00": 440.0, "UDN01": 730.0, "UDN02": 1010.0, "UDN03": 1370.0, "UDN04": 1790.0, "UDN05": 2230.0,
}


@dataclass
class Site:
    code: str
    endpoint: MediaEndpoint
    last_video: np.ndarray | None = None
    last_video_at: float = 0.0
    audio: list[np.ndarray] = field(default_factory=list)
    recording: bool = False

    async def audio_clip(self, seconds: float) -> np.ndarray:
        """Mono samples of the program audio this site hears, from now on."""
        self.audio = []
        self.recording = True
        await asyncio.sleep(seconds)
        self.recording = False
        return np.concatenate(self.audio) if self.audio else np.zeros(0, dtype=np.float32)


@dataclass
class Rig:
    worker: MediaWorker
    events: list[dict[str, Any]]
    sites: dict[str, Site] = field(default_factory=dict)

    async def join(self, code: str, *, profile: Profile = SOURCE, colour: tuple[int, int, int] | None = None,
                   **kw: Any) -> Site:
        site_ref: list[Site] = []

        def on_video(frame: av.VideoFrame) -> None:
            s = site_ref[0]
            s.last_video = frame.to_ndarray(format="rgb24")
            s.last_video_at = time.monotonic()

        def on_audio(frame: av.AudioFrame) -> None:
            s = site_ref[0]
            if s.recording:
                data = frame.to_ndarray().astype(np.float32)
                channels = len(frame.layout.channels)
                s.audio.append(data.reshape(-1, channels).mean(axis=1))

        ep = MediaEndpoint(code, colour=colour or COLOURS.get(code), tone_hz=TONES.get(code, 440.0),
                           on_video=on_video, on_audio=on_audio, **kw)
        site = Site(code, ep)
        site_ref.append(site)
        offer = await ep.offer(profile)
        answer = await self.worker.request(channel.Offer(site=code, sdp=offer["sdp"], sdp_type=offer["type"]))
        await ep.answer(answer.sdp)
        self.sites[code] = site
        return site

    async def scene(self, conf: Conference) -> None:
        await self.worker.request(channel.Scene.model_validate(conf.render_state({c: c for c in conf.participants})))

    async def close(self) -> None:
        for s in self.sites.values():
            await s.endpoint.close()


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    events: list[dict[str, Any]] = []

    async def on_event(event: channel.Event) -> None:
        events.append(channel.event_dict(event))

    worker = MediaWorker(width=PROGRAM_W, height=PROGRAM_H, fps=15, kbps=600, on_event=on_event)
    await worker.start()
    r = Rig(worker, events)
    try:
        yield r
    finally:
        await r.close()
        await worker.stop()


def tile_centre(tile: dict[str, Any]) -> tuple[int, int]:
    """Centre of a layout tile in program pixels (x, y)."""
    cx = (tile["x"] + tile["w"] // 2) * PROGRAM_W // CANVAS_W
    cy = (tile["y"] + tile["h"] // 2) * PROGRAM_H // CANVAS_H
    return cx, cy


def colour_at(img: np.ndarray, x: int, y: int) -> tuple[int, int, int]:
    patch = img[max(0, y - 2) : y + 2, max(0, x - 2) : x + 2].reshape(-1, 3).mean(axis=0)
    return int(patch[0]), int(patch[1]), int(patch[2])


def close_to(got: tuple[int, int, int], want: tuple[int, int, int], tol: int = 50) -> bool:
    return all(abs(a - b) <= tol for a, b in zip(got, want, strict=True))


def mismatches(img: np.ndarray, conf: Conference) -> list[str]:
    out = []
    for tile in conf.render_state()["tiles"]:
        site = tile["site"]
        if site not in COLOURS:
            continue
        got = colour_at(img, *tile_centre(tile))
        if not close_to(got, COLOURS[site]):
            out.append(f"{site} tile at {tile_centre(tile)}: got {got}, want {COLOURS[site]}")
    return out


async def feed_program(enc: Any, fanout: Any, picture: Callable[[int], np.ndarray], fps: int = 25) -> None:
    """Encode ``picture(i)`` with ``enc`` (a SharedVideoEncoder) and publish it on ``fanout``, at
    ``fps``, until cancelled: the worker's render-and-fan-out step, without a compositor."""
    from hub.media.encoder import VIDEO_CLOCK

    i = 0
    while True:
        for packet in enc.encode(picture(i), i * VIDEO_CLOCK // fps):
            fanout.publish(packet)
        i += 1
        await asyncio.sleep(1 / fps)


async def wait_for(pred: Callable[[], bool], timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        await asyncio.sleep(step)
    return pred()


def tone_db(samples: np.ndarray, hz: float, rate: int = 48_000) -> float:
    """Peak spectral magnitude near ``hz`` in dB (compare tones of one clip with each other)."""
    win = samples * np.hanning(samples.size)
    spec = np.abs(np.fft.rfft(win))
    freqs = np.fft.rfftfreq(samples.size, 1 / rate)
    band = (freqs > hz - 15) & (freqs < hz + 15)
    return 20 * float(np.log10(spec[band].max() + 1e-9))
