"""What the live WebRTC session sees of the link, reported beside the UDP probes.

During a conference the agent reads its peer connection's RTCP-derived stats
every step and sends ``LinkReport(source="webrtc")``: loss and jitter of the
program it receives from the hub (inbound-rtp), and the round trip the hub's
receiver reports imply for what it sends (remote-inbound-rtp). The control
room can then put the probe figures and the media's own figures side by side.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from site_agent import protocol as p

# RFC 3550 jitter is in RTP timestamp units: divide by the codec's clock rate.
CLOCK_RATES = {"audio": 48_000, "video": 90_000}


@dataclass(frozen=True)
class WebrtcFigures:
    rtt_ms: float | None
    jitter_ms: float | None
    loss_pct: float | None
    packets: int


class WebrtcStatsTracker:
    """Turns cumulative RTP counters into per-step figures (pure: give it stats objects)."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[int, int]] = {}

    def step(self, stats: Iterable[Any]) -> WebrtcFigures:
        received = lost = 0
        jitter_ms: dict[str, float] = {}
        rtts: list[float] = []
        for s in stats:
            kind = getattr(s, "type", "")
            if kind == "inbound-rtp":
                before_received, before_lost = self._last.get(s.id, (0, 0))
                self._last[s.id] = (s.packetsReceived, s.packetsLost)
                received += max(0, s.packetsReceived - before_received)
                # Duplicates can make RTCP's cumulative loss fall: never a negative loss.
                lost += max(0, s.packetsLost - before_lost)
                rate = CLOCK_RATES.get(s.kind)
                if rate:
                    jitter_ms[s.kind] = s.jitter / rate * 1000
            elif kind == "remote-inbound-rtp" and getattr(s, "roundTripTime", None) is not None:
                rtts.append(s.roundTripTime * 1000)
        total = received + lost
        return WebrtcFigures(
            rtt_ms=statistics.median(rtts) if rtts else None,
            # Audio's is the network's jitter: a video frame's packets share one timestamp.
            jitter_ms=jitter_ms.get("audio", jitter_ms.get("video")),
            loss_pct=100.0 * lost / total if total else None,
            packets=total,
        )


async def report_webrtc(client: Any, endpoint: Any, step_s: float | None = None) -> None:
    """Start task: while connected to the hub, report the conference's stats each step."""
    step = step_s or (client.welcome.report_s if client.welcome else 10.0)
    tracker = WebrtcStatsTracker()
    seen: Any = None
    while True:
        await asyncio.sleep(step)
        pc = endpoint.pc
        if pc is None or pc.connectionState != "connected":
            continue
        if pc is not seen:  # a new session: its counters start from zero
            seen, tracker = pc, WebrtcStatsTracker()
        report = await pc.getStats()
        figures = tracker.step(report.values())
        if figures.packets == 0 and figures.rtt_ms is None:
            continue
        with contextlib.suppress(ConnectionError):
            await client.send(
                p.LinkReport(
                    source="webrtc", step_s=step, probes=figures.packets, rtt_ms_median=figures.rtt_ms,
                    jitter_ms=figures.jitter_ms, loss_pct=figures.loss_pct, measured_at=time.time(),
                )
            )
