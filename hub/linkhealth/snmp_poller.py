"""Hub-side SNMP polling of the district routers: a second opinion to the agents' figures.

Enabled by the setting ``linkhealth_hub_snmp_poll``. Targets come from the
``links`` table (inventory, hub.linkhealth.store.snmp_targets); secrets are read from the environment variables
the inventory names. One :class:`~site_agent.netmon.snmp.SnmpPoller` (one pysnmp
engine) polls every target concurrently each cycle; an unreachable router is
a state in its sample, never an exception.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from site_agent import protocol as p
from site_agent.netmon.snmp import CounterTracker, RateSample, SnmpPoller, SnmpTarget

log = logging.getLogger("hub.linkhealth.snmp_poller")


@dataclass
class CycleResult:
    seconds: float
    samples: dict[str, RateSample]

    @property
    def answered(self) -> int:
        return sum(1 for s in self.samples.values() if s.state == "ok")


async def poll_cycle(
    poller: SnmpPoller, targets: Mapping[str, SnmpTarget], trackers: dict[str, CounterTracker]
) -> CycleResult:
    """Poll every target once, concurrently; rates from each target's own tracker.

    New targets are configured first (not counted in the cycle's seconds)."""
    await poller.prepare(targets.values())
    started = time.monotonic()
    keys = list(targets)
    readings = await asyncio.gather(*(poller.poll(targets[k]) for k in keys))
    samples = {}
    for key, reading in zip(keys, readings, strict=True):
        samples[key] = trackers.setdefault(key, CounterTracker()).update(reading)
    return CycleResult(time.monotonic() - started, samples)


Sink = Callable[[str, p.SnmpReport, str], Awaitable[None]]


async def run_forever(load_targets: Callable[[], Mapping[str, SnmpTarget]], interval_s: float, sink: Sink) -> None:
    """Poll every cycle until cancelled; ``load_targets`` (blocking, run in a thread) is re-read each
    cycle so inventory changes take effect; each sample goes to ``sink(code, report, "hub")``."""
    poller = SnmpPoller()
    trackers: dict[str, CounterTracker] = {}
    try:
        while True:
            began = time.monotonic()
            try:
                targets = await asyncio.to_thread(load_targets)
                result = await poll_cycle(poller, targets, trackers)
                for code, sample in result.samples.items():
                    await sink(code, sample.to_report(targets[code].if_index), "hub")
                log.debug("hub SNMP cycle: %d targets, %d answered, %.2f s",
                          len(targets), result.answered, result.seconds)
            except Exception:
                log.exception("hub SNMP cycle failed")
            await asyncio.sleep(max(0.0, interval_s - (time.monotonic() - began)))
    finally:
        poller.close()
