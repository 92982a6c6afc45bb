"""Hub-side SNMP polling of the district routers: a second opinion to the agents' figures.

Enabled by the setting ``linkhealth_hub_snmp_poll``. Targets come from the
``links`` table (inventory); secrets are read from the environment variables
the inventory names. One :class:`~site_agent.netmon.snmp.SnmpPoller` (one pysnmp
engine) polls every target concurrently each cycle; an unreachable router is
a state in its sample, never an exception.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass

from aiohttp import web
from sqlmodel import select

from hub.db import session_scope
from hub.keys import ENGINE, SETTINGS
from hub.models import Link, Site
from site_agent import protocol as p
from site_agent.netmon.snmp import (
    CounterTracker,
    RateSample,
    SnmpPoller,
    SnmpTarget,
    target_from_env_refs,
)

log = logging.getLogger("hub.linkhealth.snmp_poller")


def target_for_link(link: Link) -> SnmpTarget:
    return target_from_env_refs(
        host=link.snmp_host,
        port=link.snmp_port,
        version=link.snmp_version,
        if_index=link.snmp_if_index,
        community_env=link.snmp_community_env,
        user=link.snmp_user,
        auth_protocol=link.snmp_auth_protocol or "SHA",
        auth_key_env=link.snmp_auth_key_env,
        priv_protocol=link.snmp_priv_protocol or "AES",
        priv_key_env=link.snmp_priv_key_env,
    )


def load_targets(engine: object) -> dict[str, SnmpTarget]:
    with session_scope(engine) as session:  # type: ignore[arg-type]
        rows = session.exec(select(Site, Link).join(Link, Link.site_id == Site.id)).all()  # type: ignore[arg-type]
        return {site.code: target_for_link(link) for site, link in rows if link.snmp_host}


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


async def run_forever(engine: object, interval_s: float, sink: Sink) -> None:
    poller = SnmpPoller()
    trackers: dict[str, CounterTracker] = {}
    try:
        while True:
            began = time.monotonic()
            try:
                targets = await asyncio.to_thread(load_targets, engine)
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


async def _poller_ctx(app: web.Application) -> AsyncIterator[None]:
    from hub.linkhealth.intake import LINKHEALTH

    settings = app[SETTINGS]
    if not settings.linkhealth_hub_snmp_poll:
        yield
        return
    lh = app[LINKHEALTH]
    task = asyncio.create_task(
        run_forever(app[ENGINE], settings.linkhealth_snmp_interval_s, lh.on_snmp_report)
    )
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def setup(app: web.Application) -> None:
    app.cleanup_ctx.append(_poller_ctx)
