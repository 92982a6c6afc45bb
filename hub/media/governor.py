"""The program's bitrate under overload: step down while senders fall behind, back up once calm.

Pure (no clock, no I/O): the MCU feeds it the time and what its video senders did.

Why: every program packet is protected and sent once per site from one event loop
(hub.media.mcu). When the program moves (a clip, a camera pan) its packet rate rises
with the bitrate — ~260 packets a second per site at 2.5 Mbit/s against ~100 for a 1+N
of thumbnails — and at 20 districts that loop falls behind: senders drop their queue and
restart at a keyframe, and the districts see a few frames a second (scripts/bench_mcu.py,
the in-briefing clip window). Fewer bits keep every district's frame rate; a softer
picture is the better failure. A UDP sender never waits for the network, so a sender
that falls behind means the worker's CPU, not one district's line: one site alone does
not count (its own RTCP or a burst), two or more do.
"""

from __future__ import annotations

from dataclasses import dataclass, field

LEVELS = (1.0, 0.7, 0.5)  # of the configured bitrate; below half, text on slides breaks up


@dataclass
class BitrateGovernor:
    kbps: int  # the configured program bitrate (settings: media_kbps)
    down_after_s: float = 2.0  # between two steps down: each new bitrate costs a keyframe
    up_after_s: float = 20.0  # calm this long (and since the last change) before a step up
    min_sites: int = 2  # senders that fell behind in one look, for it to be the worker's load
    level: int = 0
    last_change: float = field(default=-1e9)
    last_lag: float = field(default=-1e9)
    steps_down: int = 0

    @property
    def current(self) -> int:
        return int(self.kbps * LEVELS[self.level])

    def observe(self, now: float, lagging_sites: int, sites: int) -> int | None:
        """One look (about once a second): the new bitrate if it should change now, else None."""
        lagging = lagging_sites >= min(self.min_sites, max(1, sites))
        if lagging:
            self.last_lag = now
            if self.level < len(LEVELS) - 1 and now - self.last_change >= self.down_after_s:
                self.level += 1
                self.last_change = now
                self.steps_down += 1
                return self.current
            return None
        if self.level > 0 and now - self.last_lag >= self.up_after_s and now - self.last_change >= self.up_after_s:
            self.level -= 1
            self.last_change = now
            return self.current
        return None
