"""What capture devices this PC has, as FFmpeg input specifications.

Linux: v4l2 cameras from ``/dev/video*`` (named from sysfs), ALSA cards and
PulseAudio sources; Windows: DirectShow; macOS: AVFoundation (both asked of
``ffmpeg -list_devices``).
"""

from __future__ import annotations

import glob
import platform
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Device:
    kind: str  # "video" | "audio"
    name: str
    format: str  # FFmpeg input format: v4l2, alsa, pulse, dshow, avfoundation (lavfi in tests)
    file: str  # what to pass to FFmpeg as the input

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "name": self.name, "format": self.format, "file": self.file}


def _ffmpeg_list(fmt: str) -> str:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        return ""
    dummy = "dummy" if fmt == "dshow" else ""
    proc = subprocess.run([ffmpeg, "-hide_banner", "-list_devices", "true", "-f", fmt, "-i", dummy],
                          capture_output=True, text=True, timeout=15, check=False)
    return proc.stderr


def list_devices() -> list[Device]:
    """Cameras and microphones this PC has, as FFmpeg input specifications."""
    system = platform.system()
    found: list[Device] = []
    if system == "Linux":
        for path in sorted(glob.glob("/dev/video*")):
            name_file = Path("/sys/class/video4linux") / Path(path).name / "name"
            name = name_file.read_text().strip() if name_file.is_file() else path
            found.append(Device("video", name, "v4l2", path))
        cards = Path("/proc/asound/cards")
        if cards.is_file():
            for m in re.finditer(r"^\s*(\d+) \[(\S+)\s*\]: (.+)$", cards.read_text(), re.M):
                found.append(Device("audio", m.group(3).strip(), "alsa", f"hw:{m.group(1)}"))
        pactl = shutil.which("pactl")
        if pactl:
            proc = subprocess.run([pactl, "list", "short", "sources"], capture_output=True, text=True,
                                  timeout=10, check=False)
            for line in proc.stdout.splitlines():
                parts = line.split("\t")
                if len(parts) > 1 and not parts[1].endswith(".monitor"):
                    found.append(Device("audio", parts[1], "pulse", parts[1]))
    elif system == "Windows":
        kind = ""
        for line in _ffmpeg_list("dshow").splitlines():
            if "DirectShow video devices" in line:
                kind = "video"
            elif "DirectShow audio devices" in line:
                kind = "audio"
            dm = re.search(r'"([^"]+)"(?:\s*\((video|audio)\))?', line)
            if dm and "Alternative name" not in line:
                k = dm.group(2) or kind
                if k:
                    found.append(Device(k, dm.group(1), "dshow", f"{k}={dm.group(1)}"))
    elif system == "Darwin":
        kind = ""
        for line in _ffmpeg_list("avfoundation").splitlines():
            if "video devices" in line:
                kind = "video"
            elif "audio devices" in line:
                kind = "audio"
            am = re.search(r"\[(\d+)\] (.+)$", line)
            if am and kind:
                spec = f"{am.group(1)}:none" if kind == "video" else f"none:{am.group(1)}"
                found.append(Device(kind, am.group(2).strip(), "avfoundation", spec))
    return found


def devices_main() -> int:
    """``python -m site_agent devices``: print what FFmpeg can capture here."""
    devices = list_devices()
    if not devices:
        print("ไม่พบกล้องหรือไมโครโฟน / no camera or microphone found (a synthetic source will be used)")
    for d in devices:
        print(f"{d.kind}\t{d.format}\t{d.file}\t{d.name}")
    return 0
