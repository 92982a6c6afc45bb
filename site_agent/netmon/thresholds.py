"""Link-health thresholds and probe method defaults, declared once for the hub and the agent.

The hub colours every probe step with :func:`classify` (hub.linkhealth) and
tells each agent the bands it uses in the ``linkhealth.configure`` command,
so an agent's own judgement of its link (self-test, tray) is the hub's. The
hub's settings take their defaults from here (hub/settings.py). Pure.

Bands follow interactive-video guidance (reference/link-health.md): RTT below
100 ms and loss below 1 % are good; 300 ms or 5 % make a call unusable.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

LinkColour = Literal["green", "amber", "red", "down"]

# The probe method (reference/link-health.md): N Poisson-spaced probes per step, Tmax.
DEFAULT_PROBES_PER_STEP = 20
DEFAULT_STEP_S = 60.0
DEFAULT_TMAX_MS = 1000.0
DEFAULT_SNMP_INTERVAL_S = 60.0


@dataclass(frozen=True)
class Thresholds:
    """At or above ``*_amber`` a step is amber, at or above ``*_red`` it is red."""

    rtt_amber_ms: float = 100.0
    rtt_red_ms: float = 300.0
    jitter_amber_ms: float = 30.0
    jitter_red_ms: float = 60.0
    loss_amber_pct: float = 1.0
    loss_red_pct: float = 5.0

    def to_json(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: Any) -> Thresholds:
        """From the configure command; unknown or missing bands keep their defaults."""
        if not isinstance(raw, dict):
            return cls()
        names = cls.__dataclass_fields__
        return cls(**{k: float(v) for k, v in raw.items() if k in names and isinstance(v, int | float)})


def classify(
    t: Thresholds, *, rtt_ms: float | None, jitter_ms: float | None, loss_pct: float | None, probes: int
) -> LinkColour:
    """green / amber / red from one step's figures; ``down`` when nothing came back."""
    if probes <= 0 or loss_pct is None or loss_pct >= 100.0 or rtt_ms is None:
        return "down"
    level = 0
    for value, amber, red in (
        (rtt_ms, t.rtt_amber_ms, t.rtt_red_ms),
        (jitter_ms, t.jitter_amber_ms, t.jitter_red_ms),
        (loss_pct, t.loss_amber_pct, t.loss_red_pct),
    ):
        if value is None:
            continue
        if value >= red:
            level = max(level, 2)
        elif value >= amber:
            level = max(level, 1)
    colours: tuple[LinkColour, LinkColour, LinkColour] = ("green", "amber", "red")
    return colours[level]
