"""Link colour on the hub, pure: the settings' bands, what each colour change records, what the tray shows.

The bands and the classifier are site_agent.netmon.thresholds (declared once,
shared with the agent); this module maps the hub's settings onto them.
"""

from __future__ import annotations

from typing import Any

from hub.settings import Settings
from site_agent.netmon.thresholds import Thresholds, classify

__all__ = ["CLERK_LINK", "OPER_STATUS", "Thresholds", "classify", "event_figures", "status_event", "thresholds_from"]

OPER_STATUS = {1: "up", 2: "down", 3: "testing", 4: "unknown", 5: "dormant", 6: "notPresent", 7: "lowerLayerDown"}

# Link colour at the hub → what the clerk's tray shows (site_agent.clerk.service's clerk_state).
CLERK_LINK = {"green": "ok", "amber": "degraded", "red": "degraded", "down": "down", "unknown": "unknown"}


def thresholds_from(s: Settings) -> Thresholds:
    return Thresholds(
        rtt_amber_ms=s.linkhealth_rtt_amber_ms,
        rtt_red_ms=s.linkhealth_rtt_red_ms,
        jitter_amber_ms=s.linkhealth_jitter_amber_ms,
        jitter_red_ms=s.linkhealth_jitter_red_ms,
        loss_amber_pct=s.linkhealth_loss_amber_pct,
        loss_red_pct=s.linkhealth_loss_red_pct,
    )


def status_event(old: str, new: str) -> str | None:
    """The link event a colour change records: ``went_red``, ``recovered`` or none."""
    if new == "red" and old != "red":
        return "went_red"
    if old in ("red", "down") and new in ("green", "amber"):
        return "recovered"
    return None


def event_figures(figures: dict[str, Any]) -> dict[str, Any]:
    keys = ("rtt_ms_median", "jitter_ms", "loss_pct", "tmax_ms", "reason")
    return {k: figures[k] for k in keys if k in figures}
