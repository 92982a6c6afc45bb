"""Recording test kit: real agents (AgentClient + media endpoint) on a real hub, ffprobe, the H.264 a district got."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import struct
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import av
import numpy as np

from hub.media.recorder import annexb_nals
from site_agent.client import AgentClient
from site_agent.media.endpoint import MediaEndpoint, install
from site_agent.rtc import healing
from tests.conftest import HubHandle
from tests.hub.media.mediakit import COLOURS, TONES, wait_for

W, H = 320, 180
SLICE_TYPES = (1, 5)  # coded slices (non-IDR, IDR): the picture itself; SPS/PPS/SEI are headers


@dataclass
class District:
    code: str
    client: AgentClient
    endpoint: MediaEndpoint
    program: np.ndarray | None = None
    # the H.264 access units this district's receiver reassembled from RTP (before decoding)
    received: list[bytes] = field(default_factory=list)
    capturing: bool = False

    def on_video(self, frame: av.VideoFrame) -> None:
        self.program = frame.to_ndarray(format="rgb24")

    async def tap_received(self, timeout: float = 20) -> None:
        """Capture each encoded frame the district's jitter buffer hands to its decoder."""
        assert await wait_for(lambda: self.endpoint.pc is not None and self.endpoint.pc.connectionState == "connected",
                              timeout), f"{self.code} did not connect"
        pc = self.endpoint.pc
        assert pc is not None
        # the first video transceiver brings the program (the second only sends a shared screen)
        video = next(t for t in pc.getTransceivers() if t.kind == "video")
        buffer = getattr(video.receiver, healing._ATTR)
        original = buffer.add

        def add(packet: Any) -> Any:
            result = original(packet)
            frame = result[1] if isinstance(result, tuple) else None
            if frame is not None and self.capturing:
                self.received.append(bytes(frame.data))
            return result

        buffer.add = add


@contextlib.asynccontextmanager
async def district(hub: HubHandle, code: str) -> AsyncIterator[District]:
    config = await hub.enrol_agent(code)
    client = AgentClient(config, backoff_base=0.1, backoff_cap=1.0)
    holder: list[District] = []
    endpoint = install(client, colour=COLOURS[code], tone_hz=TONES[code], on_video=lambda f: holder[0].on_video(f))
    d = District(code, client, endpoint)
    holder.append(d)
    task = asyncio.create_task(client.run())
    try:
        await client.wait_connected(timeout=10)
        yield d
    finally:
        await endpoint.close()
        client.stop()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(task, 5)


async def api(http: aiohttp.ClientSession, hub: HubHandle, method: str, path: str, body: Any = None,
              expect: int = 200, role: str = "operator") -> Any:
    async with http.request(method, hub.url + path, json=body, headers=hub.auth(role)) as resp:
        data = await resp.json()
        assert resp.status == expect, (method, path, resp.status, data)
        return data


async def finished_mp3(http: aiohttp.ClientSession, hub: HubHandle, recording_id: int, within_s: float = 30) -> Any:
    """The recording once the hub has made its MP3 from the MP4 (as the control room sees it appear)."""
    deadline = asyncio.get_running_loop().time() + within_s
    while True:
        one = await api(http, hub, "GET", f"/api/v1/recordings/{recording_id}", role="viewer")
        done = one["files"]["mp3"]["sha256"] and not one["mp3_pending"]
        if done or asyncio.get_running_loop().time() > deadline:
            assert one["files"]["mp3"]["sha256"] and not one["mp3_pending"], one
            return one
        await asyncio.sleep(0.2)


def ffprobe(path: Path) -> dict[str, Any]:
    out = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
                          str(path)], capture_output=True, text=True, timeout=60, check=True)
    data: dict[str, Any] = json.loads(out.stdout)
    return data


def stream_durations(path: Path) -> dict[str, float]:
    """Seconds per stream kind, from the packets (ffprobe -count_packets would need a full read anyway)."""
    ends: dict[str, float] = {}
    with av.open(str(path)) as c:
        for packet in c.demux():
            if packet.pts is None or packet.time_base is None:
                continue
            kind = packet.stream.type
            ends[kind] = max(ends.get(kind, 0.0), float((packet.pts + (packet.duration or 0)) * packet.time_base))
    return ends


def decode_all(path: Path) -> tuple[list[np.ndarray], np.ndarray]:
    """Every decoded picture (RGB) and the audio as mono float samples at 48 kHz."""
    pictures: list[np.ndarray] = []
    audio: list[np.ndarray] = []
    resampler = av.AudioResampler(format="flt", layout="mono", rate=48_000)
    with av.open(str(path)) as c:
        for frame in c.decode(*c.streams):
            if isinstance(frame, av.VideoFrame):
                pictures.append(frame.to_ndarray(format="rgb24"))
            elif isinstance(frame, av.AudioFrame):
                for f in resampler.resample(frame):
                    audio.append(f.to_ndarray().reshape(-1))
    return pictures, (np.concatenate(audio) if audio else np.zeros(0, np.float32))


def avcc_nals(data: bytes) -> list[bytes]:
    out, i = [], 0
    while i + 4 <= len(data):
        (n,) = struct.unpack(">I", data[i:i + 4])
        out.append(data[i + 4:i + 4 + n])
        i += 4 + n
    return out


def slices_key(nals: list[bytes]) -> str:
    """One picture's coded slices, hashed: equal only for the very same bytes."""
    h = hashlib.sha256()
    for nal in nals:
        if nal and nal[0] & 0x1F in SLICE_TYPES:
            h.update(struct.pack(">I", len(nal)) + nal)
    return h.hexdigest()


def mp4_pictures(path: Path) -> list[str]:
    with av.open(str(path)) as c:
        return [slices_key(avcc_nals(bytes(p))) for p in c.demux(video=0) if p.size]


def received_pictures(frames: list[bytes]) -> list[str]:
    return [slices_key(annexb_nals(f)) for f in frames]


def tone_db(samples: np.ndarray, hz: float, rate: int = 48_000) -> float:
    win = samples * np.hanning(samples.size)
    spec = np.abs(np.fft.rfft(win))
    freqs = np.fft.rfftfreq(samples.size, 1 / rate)
    band = (freqs > hz - 15) & (freqs < hz + 15)
    return 20 * float(np.log10(spec[band].max() + 1e-9))


def floor_db(samples: np.ndarray) -> float:
    """The median spectrum level away from the tones: what 'audible' is measured against."""
    win = samples * np.hanning(samples.size)
    spec = np.abs(np.fft.rfft(win))
    return 20 * float(np.log10(np.median(spec) + 1e-9))
