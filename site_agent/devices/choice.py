"""Which camera and microphone this PC uses: one choice for the self-test and the briefing.

The device that last passed the clerk's self-test is remembered by name in
``agent.json`` (``extra["devices"]``); while it is plugged in, both the
self-test and the briefing's capture use it, else both fall back to the first
device of its kind. Before issue 10 the briefing always took the first one,
so a self-test could pass on a camera the briefing did not use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from site_agent.devices.listing import Device, list_devices


class _Named(Protocol):
    @property
    def kind(self) -> str: ...

    @property
    def name(self) -> str: ...


DeviceT = TypeVar("DeviceT", bound=_Named)


def pick_device(devices: Sequence[DeviceT], kind: str, preferred: str | None) -> DeviceT | None:
    """The remembered device if it is still plugged in, else the first of its kind."""
    candidates = [d for d in devices if d.kind == kind]
    return next((d for d in candidates if d.name == preferred), candidates[0] if candidates else None)


@dataclass(frozen=True)
class DeviceChoice:
    video: Device | None
    audio: Device | None

    def names(self) -> dict[str, str]:
        """``{"video": name, "audio": name}`` for what was found: the shape remembered in agent.json."""
        return {k: d.name for k, d in (("video", self.video), ("audio", self.audio)) if d is not None}


def choose_devices(preferred: Mapping[str, str] | None, devices: Sequence[Device] | None = None) -> DeviceChoice:
    """The camera and microphone to use, given the remembered names; ``devices`` default: what this PC has."""
    found = list_devices() if devices is None else list(devices)
    pref = preferred or {}
    return DeviceChoice(pick_device(found, "video", pref.get("video")), pick_device(found, "audio", pref.get("audio")))
