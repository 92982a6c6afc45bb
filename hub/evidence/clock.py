"""Is the hub's clock synchronised? Read from the system, or said to be unknown.

Traffic data is evidence only on a trustworthy clock (e-meeting standard), so
every join and leave records what the system said at that moment: systemd's
``timedatectl show -p NTPSynchronized`` first, chrony's ``chronyc tracking``
next, otherwise "unknown" — never a guess.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class ClockState:
    synchronized: bool | None  # None: could not tell
    source: str  # "timedatectl", "chronyc" or "unknown"
    detail: str = ""

    @property
    def label(self) -> str:
        return {True: "synchronized", False: "not_synchronized", None: "unknown"}[self.synchronized]

    def to_json(self) -> dict[str, object]:
        return {"synchronized": self.synchronized, "state": self.label, "source": self.source, "detail": self.detail}


def _run(argv: list[str]) -> str | None:
    if shutil.which(argv[0]) is None:
        return None
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=3, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def read_clock_state() -> ClockState:
    out = _run(["timedatectl", "show", "-p", "NTPSynchronized", "--value"])
    if out is not None and out.strip() in ("yes", "no"):
        return ClockState(out.strip() == "yes", "timedatectl", f"NTPSynchronized={out.strip()}")
    out = _run(["chronyc", "-n", "tracking"])
    if out is not None:
        status = next((line.split(":", 1)[1].strip() for line in out.splitlines()
                       if line.startswith("Leap status")), "")
        if status:
            return ClockState(status == "Normal", "chronyc", f"Leap status: {status}")
    return ClockState(None, "unknown", "neither timedatectl nor chronyc answered")


class ClockWatch:
    """The state, re-read at most once a minute: joins come in bursts at T0."""

    def __init__(self, max_age_s: float = 60.0) -> None:
        self.max_age_s = max_age_s
        self._state: ClockState | None = None
        self._read_at = 0.0

    def state(self) -> ClockState:
        now = time.monotonic()
        if self._state is None or now - self._read_at > self.max_age_s:
            self._state, self._read_at = read_clock_state(), now
        return self._state
