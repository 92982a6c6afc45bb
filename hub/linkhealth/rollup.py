"""Hourly link-health rollups, computed from raw samples. Pure: no I/O, no clock.

The rollup of an hour is a function of the raw samples alone, so
recomputing it from the raw table always gives the stored numbers (the
monthly report and the history charts read rollups, and an auditor can
check them against raw data while it is retained).

Definitions (documented here because the finance report depends on them):

* RTT median and p95 are over the step medians of the probe reports whose
  measurement time falls in the hour; median is the usual midpoint median,
  p95 the nearest-rank percentile (always an observed value).
  RTT min/max are the extremes of the steps' own min/max.
* Loss is probes lost / probes sent over the hour (integers, so exact).
* Minutes: a probe report measured at ``t`` with step ``s`` covers
  ``[t - s, t)``. Each minute of the hour takes the worst status of the
  reports that cover any part of it (green < amber < red < down); a minute
  no report covers is *down* (agent offline or link dead). The four counts
  sum to 60.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

STATUS_ORDER = {"green": 0, "amber": 1, "red": 2, "down": 3}
HOUR = timedelta(hours=1)
# History ranges: (span, bucket seconds). 24 h from raw samples, 7 d from hourly rollups,
# 30 d from rollups merged in 4-hour buckets (merge_stats).
RANGES = {"24h": (timedelta(hours=24), 300), "7d": (timedelta(days=7), 3600), "30d": (timedelta(days=30), 4 * 3600)}


@dataclass(frozen=True)
class ProbeSample:
    at: datetime  # measurement time (end of the step), aware UTC
    step_s: float
    probes: int
    status: str  # green | amber | red | down
    rtt_median: float | None = None
    rtt_min: float | None = None
    rtt_max: float | None = None
    jitter: float | None = None
    loss_pct: float | None = None

    @property
    def lost(self) -> int:
        if self.loss_pct is None:
            return 0
        return round(self.loss_pct * self.probes / 100.0)


@dataclass(frozen=True)
class RateSample:
    at: datetime
    in_bps: float | None
    out_bps: float | None


@dataclass(frozen=True)
class Stats:
    """Spread of one bucket: what a SmokePing-style chart draws."""

    samples: int
    probes_sent: int
    probes_lost: int
    rtt_min: float | None
    rtt_p5: float | None
    rtt_median: float | None
    rtt_p95: float | None
    rtt_max: float | None
    jitter_median: float | None

    @property
    def loss_pct(self) -> float | None:
        if self.probes_sent == 0:
            return None
        return self.probes_lost * 100.0 / self.probes_sent


@dataclass(frozen=True)
class HourRollup:
    hour: datetime
    stats: Stats
    minutes_green: int
    minutes_amber: int
    minutes_red: int
    minutes_down: int
    in_bps_avg: float | None
    in_bps_max: float | None
    out_bps_avg: float | None
    out_bps_max: float | None


def nearest_rank(sorted_values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile of an ascending sequence (an observed value)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(pct / 100.0 * len(sorted_values)))
    return sorted_values[rank - 1]


def hour_floor(at: datetime) -> datetime:
    at = at.astimezone(UTC)
    return at.replace(minute=0, second=0, microsecond=0)


def bucket_stats(samples: Iterable[ProbeSample]) -> Stats:
    rows = list(samples)
    medians = sorted(s.rtt_median for s in rows if s.rtt_median is not None)
    mins = [s.rtt_min if s.rtt_min is not None else s.rtt_median for s in rows]
    maxs = [s.rtt_max if s.rtt_max is not None else s.rtt_median for s in rows]
    lows = [v for v in mins if v is not None]
    highs = [v for v in maxs if v is not None]
    jitters = sorted(s.jitter for s in rows if s.jitter is not None)
    return Stats(
        samples=len(rows),
        probes_sent=sum(s.probes for s in rows),
        probes_lost=sum(s.lost for s in rows),
        rtt_min=min(lows) if lows else None,
        rtt_p5=nearest_rank(medians, 5),
        rtt_median=statistics.median(medians) if medians else None,
        rtt_p95=nearest_rank(medians, 95),
        rtt_max=max(highs) if highs else None,
        jitter_median=statistics.median(jitters) if jitters else None,
    )


def minute_statuses(hour: datetime, samples: Iterable[ProbeSample]) -> list[str]:
    """The status of each of the hour's 60 minutes (see module doc)."""
    start = hour.timestamp()
    worst = [-1] * 60
    for s in samples:
        end = s.at.timestamp()
        begin = end - s.step_s
        rank = STATUS_ORDER.get(s.status, STATUS_ORDER["down"])
        # Minutes overlapping [begin, end).
        first = max(0, math.floor((begin - start) / 60.0))
        last = min(59, math.ceil((end - start) / 60.0) - 1)
        for m in range(first, last + 1):
            if rank > worst[m]:
                worst[m] = rank
    names = {v: k for k, v in STATUS_ORDER.items()}
    return [names[w] if w >= 0 else "down" for w in worst]


def rollup_hour(
    hour: datetime, probes: Iterable[ProbeSample], rates: Iterable[RateSample] = ()
) -> HourRollup:
    """Roll up one hour. ``probes`` may include reports from the neighbouring
    hours (their coverage can reach into this one); only those measured in
    the hour count toward the RTT and loss figures."""
    hour = hour_floor(hour)
    end = hour + HOUR
    all_probes = list(probes)
    inside = [s for s in all_probes if hour <= s.at < end]
    minutes = minute_statuses(hour, all_probes)
    rate_rows = [r for r in rates if hour <= r.at < end]
    ins = [r.in_bps for r in rate_rows if r.in_bps is not None]
    outs = [r.out_bps for r in rate_rows if r.out_bps is not None]
    return HourRollup(
        hour=hour,
        stats=bucket_stats(inside),
        minutes_green=minutes.count("green"),
        minutes_amber=minutes.count("amber"),
        minutes_red=minutes.count("red"),
        minutes_down=minutes.count("down"),
        in_bps_avg=statistics.fmean(ins) if ins else None,
        in_bps_max=max(ins) if ins else None,
        out_bps_avg=statistics.fmean(outs) if outs else None,
        out_bps_max=max(outs) if outs else None,
    )


def hours_between(first: datetime, last_exclusive: datetime) -> list[datetime]:
    out = []
    h = hour_floor(first)
    while h < last_exclusive:
        out.append(h)
        h += HOUR
    return out


def merge_stats(parts: list[Stats]) -> Stats:
    """Several hours' stats as one bucket: median of hourly medians, largest p95, extremes."""
    if len(parts) == 1:
        return parts[0]

    def vals(attr: str) -> list[float]:
        return [v for v in (getattr(s, attr) for s in parts) if v is not None]

    medians = vals("rtt_median")
    jit = vals("jitter_median")
    return Stats(
        samples=sum(s.samples for s in parts),
        probes_sent=sum(s.probes_sent for s in parts),
        probes_lost=sum(s.probes_lost for s in parts),
        rtt_min=min(vals("rtt_min"), default=None),
        rtt_p5=min(vals("rtt_p5"), default=None),
        rtt_median=statistics.median(medians) if medians else None,
        rtt_p95=max(vals("rtt_p95"), default=None),
        rtt_max=max(vals("rtt_max"), default=None),
        jitter_median=statistics.median(jit) if jit else None,
    )
