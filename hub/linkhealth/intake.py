"""Link health of the district fibre on the hub: intake, live figures, status colour, events.

Agents send a :class:`~site_agent.protocol.LinkReport` per probe step and a
:class:`~site_agent.protocol.SnmpReport` per router poll; the optional hub
poller (hub.linkhealth.snmp_poller) feeds the same intake. Everything lands in
raw tables (hub.linkhealth.store) and is rolled up per hour
(hub.linkhealth.rollup). Status colours come from thresholds that are
settings (hub.linkhealth.classify); the colour of each probe step is stored
with it, so a rollup recomputed from raw gives the same minutes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import SQLModel

from hub.db import session_scope
from hub.linkhealth import rollup, store
from hub.linkhealth.classify import (
    OPER_STATUS,
    classify,
    event_figures,
    status_event,
    thresholds_from,
)
from hub.linkhealth.store import LinkEvent, LinkSample, SiteInfo, SnmpSample, to_utc
from hub.models import utcnow
from hub.settings import Settings
from site_agent import protocol as p
from site_agent.netmon.snmp import utilisation_pct

log = logging.getLogger("hub.linkhealth.intake")


@dataclass
class LiveLink:
    code: str
    status: str = "unknown"  # green | amber | red | down | unknown (no report yet)
    status_since: float | None = None
    probe: dict[str, Any] | None = None
    webrtc: dict[str, Any] | None = None
    snmp: dict[str, Any] | None = None
    hub_snmp: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "status": self.status,
            "status_since": self.status_since,
            "probe": self.probe,
            "webrtc": self.webrtc,
            "snmp": self.snmp,
            "hub_snmp": self.hub_snmp,
        }


StatusListener = Callable[[str, str, str], Any]  # (site code, old status, new status)


class LinkHealth:
    def __init__(self, settings: Settings, engine: sa.Engine, publish: Callable[[str, dict[str, Any]], None]) -> None:
        self.settings = settings
        self.engine = engine
        self.publish = publish
        self.thresholds = thresholds_from(settings)
        self.sites: dict[str, SiteInfo] = {}
        self.live: dict[str, LiveLink] = {}
        # The port the UDP echo listens on (the setting may be 0); None while it is off.
        self.echo_port: int | None = None
        self._status_listeners: list[StatusListener] = []
        # Group commit: rows that arrive while a write runs go into the next transaction.
        self._write_queue: list[tuple[SQLModel, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    def add_status_listener(self, fn: StatusListener) -> None:
        """``fn(code, old, new)`` (sync or async) on every status colour change; alarms use it."""
        self._status_listeners.append(fn)

    # --- sites ---------------------------------------------------------------------------
    def load_sites(self) -> None:
        for info in store.load_sites(self.engine):
            self.sites[info.code] = info
            self.live.setdefault(info.code, LiveLink(info.code))

    async def site(self, code: str) -> SiteInfo | None:
        info = self.sites.get(code)
        if info is None:
            await asyncio.to_thread(self.load_sites)
            info = self.sites.get(code)
        return info

    def live_of(self, code: str) -> LiveLink:
        return self.live.setdefault(code, LiveLink(code))

    # --- intake ----------------------------------------------------------------------------
    async def on_link_report(self, code: str, msg: p.LinkReport) -> None:
        if msg.source == "control":
            return  # the registry shows the control-channel RTT; not a link measurement
        info = await self.site(code)
        if info is None:
            return
        status = classify(
            self.thresholds,
            rtt_ms=msg.rtt_ms_median,
            jitter_ms=msg.jitter_ms,
            loss_pct=msg.loss_pct,
            probes=msg.probes,
        )
        row = LinkSample(
            site_id=info.site_id,
            at=to_utc(msg.measured_at),
            source=msg.source,
            step_s=msg.step_s,
            probes=msg.probes,
            rtt_median_ms=msg.rtt_ms_median,
            rtt_min_ms=msg.rtt_ms_min,
            rtt_max_ms=msg.rtt_ms_max,
            jitter_ms=msg.jitter_ms,
            loss_pct=msg.loss_pct,
            tmax_ms=msg.tmax_ms,
            status=status,
        )
        await self._insert(row)
        live = self.live_of(code)
        figures = msg.model_dump(exclude={"type"})
        figures["status"] = status
        if msg.source == "webrtc":
            live.webrtc = figures
            self.publish("link", {"site": code, **live.as_dict()})
            return
        live.probe = figures
        await self._set_status(info, status, figures)
        self.publish("link", {"site": code, **live.as_dict()})

    async def on_snmp_report(self, code: str, msg: p.SnmpReport, source: str = "agent") -> None:
        info = await self.site(code)
        if info is None:
            return
        util_down = utilisation_pct(msg.in_bps, info.plan_down_mbps)
        util_up = utilisation_pct(msg.out_bps, info.plan_up_mbps)
        row = SnmpSample(
            site_id=info.site_id,
            at=to_utc(msg.measured_at),
            source=source,
            state=msg.state,
            detail=msg.detail[:500],
            oper_status=msg.oper_status,
            high_speed_mbps=msg.high_speed_mbps,
            sys_uptime=msg.sys_uptime,
            in_bps=msg.in_bps,
            out_bps=msg.out_bps,
            util_down_pct=util_down,
            util_up_pct=util_up,
            events=",".join(msg.events),
        )
        await self._insert(row)
        figures = msg.model_dump(exclude={"type"})
        figures.update(
            util_down_pct=util_down,
            util_up_pct=util_up,
            oper_status_name=OPER_STATUS.get(msg.oper_status or 0),
            plan_down_mbps=info.plan_down_mbps,
            plan_up_mbps=info.plan_up_mbps,
            source=source,
        )
        live = self.live_of(code)
        if source == "hub":
            live.hub_snmp = figures
        else:
            live.snmp = figures
        for event in msg.events:
            if event in ("router_rebooted", "counters_reset"):
                await self.record_event(info, event, {"source": source, "sys_uptime": msg.sys_uptime})
        self.publish("link", {"site": code, **live.as_dict()})

    async def on_connect(self, code: str, connected: bool) -> None:
        info = await self.site(code)
        if info is None:
            return
        await self.record_event(info, "online" if connected else "offline", {})
        if not connected:
            await self._set_status(info, "down", {"reason": "offline"})
            self.publish("link", {"site": code, **self.live_of(code).as_dict()})

    async def _set_status(self, info: SiteInfo, status: str, figures: dict[str, Any]) -> None:
        live = self.live_of(info.code)
        old = live.status
        if old == status:
            return
        live.status = status
        live.status_since = time.time()
        kind = status_event(old, status)
        if kind == "went_red":
            await self.record_event(info, kind, event_figures(figures))
        elif kind == "recovered":
            await self.record_event(info, kind, {"from": old, **event_figures(figures)})
        for fn in self._status_listeners:
            try:
                result = fn(info.code, old, status)
                if asyncio.iscoroutine(result):
                    await result
            except Exception:
                log.exception("status listener failed for %s", info.code)

    async def record_event(self, info: SiteInfo, kind: str, detail: dict[str, Any]) -> None:
        row = LinkEvent(site_id=info.site_id, kind=kind, detail=detail)
        await self._insert(row)
        self.publish("link_event", {"site": info.code, "kind": kind, "detail": detail, "at": row.at.isoformat()})

    async def _insert(self, row: SQLModel) -> None:
        """Returns once the row is committed.

        A commit per report cost the hub a quarter of a core at 1,000 agents (one report
        per district every 10 s; scripts/bench_control.py, py-spy: 90 % of the thread
        pool in ``Session.commit``) and delayed the broadcasts behind it. Rows that arrive
        while a transaction runs share the next one; an idle hub writes at once.
        """
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._write_queue.append((row, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_rows())
        await done

    async def _write_rows(self) -> None:
        while self._write_queue:
            batch, self._write_queue = self._write_queue, []
            try:
                results = await asyncio.to_thread(store.insert_many, self.engine, [row for row, _ in batch])
            except BaseException as exc:  # cancelled at shutdown: nobody waits forever
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc if isinstance(exc, Exception) else RuntimeError("hub stopping"))
                raise
            for (_, done), error in zip(batch, results, strict=True):
                if done.done():
                    continue
                if error is None:
                    done.set_result(None)
                else:
                    done.set_exception(error)

    # --- rollups and retention ----------------------------------------------------------------
    def _site_ids(self) -> list[int]:
        return [info.site_id for info in list(self.sites.values())]

    def rollup_pending(self, now: datetime | None = None) -> int:
        """Roll up every completed hour not rolled up yet (per site). Returns hours written."""
        now = now or utcnow()
        # A report measured just after an hour still covers its last minutes: wait for it.
        settle = timedelta(seconds=2 * self.settings.linkhealth_step_s + 60)
        return store.rollup_pending(self.engine, self._site_ids(), rollup.hour_floor(now - settle))

    def compute_hour(self, site_id: int, hour: datetime) -> rollup.HourRollup:
        with session_scope(self.engine) as session:
            return store.compute_hour(session, site_id, hour)

    def purge(self, now: datetime | None = None) -> tuple[int, int]:
        """Delete raw samples past retention (only hours already rolled up) and old rollups."""
        now = now or utcnow()
        raw_cut = now - timedelta(days=self.settings.linkhealth_raw_retention_days)
        roll_cut = now - timedelta(days=self.settings.linkhealth_rollup_retention_days)
        return store.purge(self.engine, self._site_ids(), raw_cut, roll_cut)

    def history(self, info: SiteInfo, range_key: str, now: datetime | None = None) -> dict[str, Any]:
        return store.history(self.engine, info, range_key, now or utcnow(),
                             tmax_ms=self.settings.linkhealth_tmax_ms, thresholds=self.thresholds)

    async def maintenance_loop(self) -> None:
        while True:
            try:
                written = await asyncio.to_thread(self.rollup_pending)
                raw, old = await asyncio.to_thread(self.purge)
                if written or raw or old:
                    log.info("link rollups: %d hours written, %d raw and %d old rollups purged", written, raw, old)
            except Exception:
                log.exception("link-health maintenance failed")
            await asyncio.sleep(self.settings.linkhealth_maintenance_interval_s)

    # --- configuration sent to agents ---------------------------------------------------------
    def agent_config(self, code: str) -> dict[str, Any]:
        """Arguments of the ``linkhealth.configure`` command for one district."""
        s = self.settings
        args: dict[str, Any] = {
            "echo_port": self.echo_port if self.echo_port is not None else s.linkhealth_udp_echo_port,
            "probes_per_step": s.linkhealth_probes_per_step,
            "step_s": s.linkhealth_step_s,
            "tmax_ms": s.linkhealth_tmax_ms,
            "snmp_interval_s": s.linkhealth_snmp_interval_s,
            "thresholds": self.thresholds.to_json(),
        }
        target = store.snmp_target_of(self.engine, code)
        if target is not None:
            # Secrets resolved on the hub travel over the authenticated (TLS in production)
            # control channel; an agent-side config section overrides them.
            args["snmp"] = {
                "host": target.host,
                "port": target.port,
                "version": target.version,
                "if_index": target.if_index,
                "community": target.community,
                "user": target.user,
                "auth_protocol": target.auth_protocol,
                "auth_key": target.auth_key,
                "priv_protocol": target.priv_protocol,
                "priv_key": target.priv_key,
            }
        return args
