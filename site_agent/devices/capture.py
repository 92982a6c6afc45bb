"""Opening a chosen device: short grabs for the self-test, a live track for the briefing.

PyAV and aiortc are imported when a device is opened, not when the agent
starts: ``python -m site_agent --help`` and the headless self-test of a PC
without devices stay quick.
"""

from __future__ import annotations

import math
import sys
import time
from typing import TYPE_CHECKING

import numpy as np

from site_agent.devices.listing import Device

if TYPE_CHECKING:
    from aiortc.mediastreams import MediaStreamTrack


class AvCamera:
    """A capture device as FFmpeg sees it (:class:`Device`: format + input name)."""

    def __init__(self, fmt: str, file: str) -> None:
        self.fmt, self.file = fmt, file

    @classmethod
    def of(cls, device: Device) -> AvCamera:
        return cls(device.format, device.file)

    def grab(self, count: int, timeout_s: float) -> list[np.ndarray]:
        import av

        frames: list[np.ndarray] = []
        deadline = time.monotonic() + timeout_s
        with av.open(self.file, format=self.fmt, timeout=timeout_s) as box:
            for frame in box.decode(video=0):
                frames.append(frame.to_ndarray(format="rgb24"))
                if len(frames) >= count or time.monotonic() > deadline:
                    break
        return frames


class AvMicrophone:
    def __init__(self, fmt: str, file: str) -> None:
        self.fmt, self.file = fmt, file

    @classmethod
    def of(cls, device: Device) -> AvMicrophone:
        return cls(device.format, device.file)

    def levels(self, seconds: float) -> list[float]:
        import av

        out: list[float] = []
        deadline = time.monotonic() + seconds
        with av.open(self.file, format=self.fmt, timeout=seconds + 2) as box:
            for frame in box.decode(audio=0):
                raw = frame.to_ndarray()
                pcm = raw.astype(np.float64)
                if raw.dtype.kind in "iu":  # integer PCM: scale to ±1.0 full scale
                    pcm /= float(2 ** (8 * raw.dtype.itemsize - 1))
                rms = float(np.sqrt(np.mean(np.square(pcm)))) or 1e-9
                out.append(20 * math.log10(rms))
                if time.monotonic() > deadline:
                    break
        return out


class SystemSpeaker:
    """A sine tone through the platform's own player (winsound, or ALSA's aplay)."""

    def play_tone(self, hz: float, seconds: float) -> None:
        import io
        import subprocess
        import wave

        rate = 48000
        t = np.arange(int(rate * seconds)) / rate
        pcm = (0.3 * 32767 * np.sin(2 * math.pi * hz * t)).astype("<i2").tobytes()
        buf = io.BytesIO()
        with wave.open(buf, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(pcm)
        if sys.platform == "win32":
            import winsound

            winsound.PlaySound(buf.getvalue(), winsound.SND_MEMORY)
            return
        try:
            subprocess.run(["aplay", "-q", "-"], input=buf.getvalue(), check=True, timeout=seconds + 5)
        except (FileNotFoundError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            raise OSError(str(exc)) from exc


def open_device(device: Device) -> MediaStreamTrack:
    """A live aiortc track from the device (the briefing's camera or microphone)."""
    from aiortc.contrib.media import MediaPlayer

    options = {"framerate": "25", "video_size": "1280x720"} if device.kind == "video" else {}
    player = MediaPlayer(device.file, format=device.format, options=options)
    track = player.video if device.kind == "video" else player.audio
    if track is None:
        raise RuntimeError(f"{device.name} gave no {device.kind} stream")
    return track
