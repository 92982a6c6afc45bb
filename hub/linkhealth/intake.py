"""Link health of the district fibre on the hub: intake, live figures, status colour, events, history.

Agents send a :class:`~site_agent.protocol.LinkReport` per probe step and a
:class:`~site_agent.protocol.SnmpReport` per router poll; the optional hub
poller (hub/snmp_poller.py) feeds the same intake. Everything lands in raw
tables (kept ``linkhealth_raw_retention_days``) and is rolled up per hour by
hub/rollup.py (kept ``linkhealth_rollup_retention_days``). Status colours
come from thresholds that are settings; the colour of each probe step is
stored with it, so a rollup recomputed from raw gives the same minutes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from aiohttp import web
from sqlmodel import Field, SQLModel, col, select

from hub.db import session_scope
from hub.keys import ENGINE, EVENTS, REGISTRY, SETTINGS
from hub.linkhealth import rollup
from hub.models import Link, Site, utcnow
from hub.settings import Settings
from hub.web.auth import require_role
from site_agent import protocol as p
from site_agent.netmon.probe import CONFIGURE_COMMAND
from site_agent.netmon.snmp import utilisation_pct

log = logging.getLogger("hub.linkhealth.intake")

OPER_STATUS = {1: "up", 2: "down", 3: "testing", 4: "unknown", 5: "dormant", 6: "notPresent", 7: "lowerLayerDown"}


# --- tables ----------------------------------------------------------------------------


class LinkSample(SQLModel, table=True):
    """One probe step (or one WebRTC receiver-report summary) as reported."""

    __tablename__ = "link_samples"
    __table_args__ = (sa.Index("ix_link_samples_site_at", "site_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="sites.id")
    at: datetime = Field(index=True)
    source: str = Field(max_length=16)  # probe | webrtc
    step_s: float
    probes: int
    rtt_median_ms: float | None = None
    rtt_min_ms: float | None = None
    rtt_max_ms: float | None = None
    jitter_ms: float | None = None
    loss_pct: float | None = None
    tmax_ms: float | None = None
    status: str = Field(max_length=8)  # green | amber | red | down


class SnmpSample(SQLModel, table=True):
    __tablename__ = "snmp_samples"
    __table_args__ = (sa.Index("ix_snmp_samples_site_at", "site_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="sites.id")
    at: datetime = Field(index=True)
    source: str = Field(max_length=8)  # agent | hub
    state: str = Field(max_length=16)
    detail: str = Field(default="", max_length=500)
    oper_status: int | None = None
    high_speed_mbps: int | None = None
    sys_uptime: int | None = Field(default=None, sa_type=sa.BigInteger)
    in_bps: float | None = None
    out_bps: float | None = None
    util_down_pct: float | None = None
    util_up_pct: float | None = None
    events: str = Field(default="", max_length=100)  # comma-separated CounterEvent values


class LinkEvent(SQLModel, table=True):
    __tablename__ = "link_events"
    __table_args__ = (sa.Index("ix_link_events_site_at", "site_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="sites.id")
    at: datetime = Field(default_factory=utcnow)
    kind: str = Field(max_length=32)  # went_red, recovered, router_rebooted, counters_reset, offline, online
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))


class LinkRollup(SQLModel, table=True):
    """One hour of one site (see hub/rollup.py for the exact definitions)."""

    __tablename__ = "link_rollups"
    __table_args__ = (sa.UniqueConstraint("site_id", "hour", name="uq_link_rollups_site_hour"),)

    id: int | None = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="sites.id", index=True)
    hour: datetime = Field(index=True)
    samples: int
    probes_sent: int
    probes_lost: int
    rtt_min_ms: float | None = None
    rtt_p5_ms: float | None = None
    rtt_median_ms: float | None = None
    rtt_p95_ms: float | None = None
    rtt_max_ms: float | None = None
    jitter_median_ms: float | None = None
    minutes_green: int
    minutes_amber: int
    minutes_red: int
    minutes_down: int
    in_bps_avg: float | None = None
    in_bps_max: float | None = None
    out_bps_avg: float | None = None
    out_bps_max: float | None = None


# --- status colour (pure) ---------------------------------------------------------------


@dataclass(frozen=True)
class Thresholds:
    rtt_amber_ms: float = 100.0
    rtt_red_ms: float = 300.0
    jitter_amber_ms: float = 30.0
    jitter_red_ms: float = 60.0
    loss_amber_pct: float = 1.0
    loss_red_pct: float = 5.0

    @classmethod
    def from_settings(cls, s: Settings) -> Thresholds:
        return cls(
            rtt_amber_ms=s.linkhealth_rtt_amber_ms,
            rtt_red_ms=s.linkhealth_rtt_red_ms,
            jitter_amber_ms=s.linkhealth_jitter_amber_ms,
            jitter_red_ms=s.linkhealth_jitter_red_ms,
            loss_amber_pct=s.linkhealth_loss_amber_pct,
            loss_red_pct=s.linkhealth_loss_red_pct,
        )


def classify(
    t: Thresholds, *, rtt_ms: float | None, jitter_ms: float | None, loss_pct: float | None, probes: int
) -> str:
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
    return ("green", "amber", "red")[level]


def to_utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def as_probe_sample(row: LinkSample) -> rollup.ProbeSample:
    return rollup.ProbeSample(
        at=row.at.astimezone(UTC),
        step_s=row.step_s,
        probes=row.probes,
        status=row.status,
        rtt_median=row.rtt_median_ms,
        rtt_min=row.rtt_min_ms,
        rtt_max=row.rtt_max_ms,
        jitter=row.jitter_ms,
        loss_pct=row.loss_pct,
    )


# --- the service ---------------------------------------------------------------------------


@dataclass
class SiteInfo:
    code: str
    site_id: int
    name_th: str
    name_en: str
    plan_down_mbps: float
    plan_up_mbps: float


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
        self.thresholds = Thresholds.from_settings(settings)
        self.sites: dict[str, SiteInfo] = {}
        self.live: dict[str, LiveLink] = {}
        self._status_listeners: list[StatusListener] = []
        self._write_lock = asyncio.Lock()

    def add_status_listener(self, fn: StatusListener) -> None:
        """``fn(code, old, new)`` (sync or async) on every status colour change; alarms use it."""
        self._status_listeners.append(fn)

    # --- sites ---------------------------------------------------------------------------
    def load_sites(self) -> None:
        with session_scope(self.engine) as session:
            rows = session.exec(select(Site, Link).join(Link, Link.site_id == Site.id, isouter=True)).all()  # type: ignore[arg-type]
            for site, link in rows:
                assert site.id is not None
                self.sites[site.code] = SiteInfo(
                    code=site.code,
                    site_id=site.id,
                    name_th=site.name_th,
                    name_en=site.name_en,
                    plan_down_mbps=float(link.plan_down_mbps) if link else 200.0,
                    plan_up_mbps=float(link.plan_up_mbps) if link else 80.0,
                )
                self.live.setdefault(site.code, LiveLink(site.code))

    async def site(self, code: str) -> SiteInfo | None:
        info = self.sites.get(code)
        if info is None:
            await asyncio.to_thread(self.load_sites)
            info = self.sites.get(code)
        return info

    def _live(self, code: str) -> LiveLink:
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
        live = self._live(code)
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
        live = self._live(code)
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
            self.publish("link", {"site": code, **self._live(code).as_dict()})

    async def _set_status(self, info: SiteInfo, status: str, figures: dict[str, Any]) -> None:
        live = self._live(info.code)
        old = live.status
        if old == status:
            return
        live.status = status
        live.status_since = time.time()
        if status == "red" and old != "red":
            await self.record_event(info, "went_red", _event_figures(figures))
        elif old in ("red", "down") and status in ("green", "amber"):
            await self.record_event(info, "recovered", {"from": old, **_event_figures(figures)})
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
        def write() -> None:
            with session_scope(self.engine) as session:
                session.add(row)

        await asyncio.to_thread(write)

    # --- rollups and retention ----------------------------------------------------------------
    def rollup_pending(self, now: datetime | None = None) -> int:
        """Roll up every completed hour not rolled up yet (per site). Returns hours written."""
        now = now or utcnow()
        # A report measured just after an hour still covers its last minutes: wait for it.
        settle = timedelta(seconds=2 * self.settings.linkhealth_step_s + 60)
        current_hour = rollup.hour_floor(now - settle)
        written = 0
        with session_scope(self.engine) as session:
            for info in list(self.sites.values()):
                last = session.exec(
                    select(sa.func.max(LinkRollup.hour)).where(LinkRollup.site_id == info.site_id)
                ).one()
                if last is not None:
                    start = rollup.hour_floor(last) + rollup.HOUR
                else:
                    first = session.exec(
                        select(sa.func.min(LinkSample.at)).where(LinkSample.site_id == info.site_id)
                    ).one()
                    if first is None:
                        continue
                    start = rollup.hour_floor(first)
                for hour in rollup.hours_between(start, current_hour):
                    session.add(self._rollup_row(session, info.site_id, hour))
                    written += 1
        return written

    def compute_hour(self, site_id: int, hour: datetime) -> rollup.HourRollup:
        with session_scope(self.engine) as session:
            return self._compute(session, site_id, hour)

    def _compute(self, session: Any, site_id: int, hour: datetime) -> rollup.HourRollup:
        # Reports measured up to one max step after the hour still cover its last minutes.
        reach = timedelta(seconds=3600)
        probes = session.exec(
            select(LinkSample).where(
                LinkSample.site_id == site_id,
                LinkSample.source == "probe",
                LinkSample.at >= hour,
                LinkSample.at < hour + rollup.HOUR + reach,
            )
        ).all()
        rates = session.exec(
            select(SnmpSample).where(
                SnmpSample.site_id == site_id,
                SnmpSample.source == "agent",
                SnmpSample.at >= hour,
                SnmpSample.at < hour + rollup.HOUR,
            )
        ).all()
        return rollup.rollup_hour(
            hour,
            [as_probe_sample(r) for r in probes],
            [rollup.RateSample(r.at.astimezone(UTC), r.in_bps, r.out_bps) for r in rates],
        )

    def _rollup_row(self, session: Any, site_id: int, hour: datetime) -> LinkRollup:
        r = self._compute(session, site_id, hour)
        return rollup_to_row(site_id, r)

    def purge(self, now: datetime | None = None) -> tuple[int, int]:
        """Delete raw samples past retention (only hours already rolled up) and old rollups."""
        now = now or utcnow()
        raw_cut = now - timedelta(days=self.settings.linkhealth_raw_retention_days)
        roll_cut = now - timedelta(days=self.settings.linkhealth_rollup_retention_days)
        with session_scope(self.engine) as session:
            deleted = 0
            for info in list(self.sites.values()):
                last = session.exec(
                    select(sa.func.max(LinkRollup.hour)).where(LinkRollup.site_id == info.site_id)
                ).one()
                if last is None:
                    continue
                cut = min(raw_cut, last.astimezone(UTC))
                for stmt in (
                    sa.delete(LinkSample).where(col(LinkSample.site_id) == info.site_id, col(LinkSample.at) < cut),
                    sa.delete(SnmpSample).where(col(SnmpSample.site_id) == info.site_id, col(SnmpSample.at) < cut),
                ):
                    result = session.execute(stmt)
                    deleted += int(getattr(result, "rowcount", 0) or 0)
            result = session.execute(sa.delete(LinkRollup).where(col(LinkRollup.hour) < roll_cut))
            return deleted, int(getattr(result, "rowcount", 0) or 0)

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
    def agent_config(self, code: str, echo_port: int | None) -> dict[str, Any]:
        s = self.settings
        args: dict[str, Any] = {
            "echo_port": echo_port if echo_port is not None else s.linkhealth_udp_echo_port,
            "probes_per_step": s.linkhealth_probes_per_step,
            "step_s": s.linkhealth_step_s,
            "tmax_ms": s.linkhealth_tmax_ms,
            "snmp_interval_s": s.linkhealth_snmp_interval_s,
        }
        target = self._snmp_target_args(code)
        if target is not None:
            args["snmp"] = target
        return args

    def _snmp_target_args(self, code: str) -> dict[str, Any] | None:
        from hub.linkhealth.snmp_poller import target_for_link

        with session_scope(self.engine) as session:
            row = session.exec(select(Link).join(Site, Site.id == Link.site_id).where(Site.code == code)).first()  # type: ignore[arg-type]
        if row is None or not row.snmp_host:
            return None
        target = target_for_link(row)
        # Secrets resolved on the hub travel over the authenticated (TLS in production)
        # control channel; an agent-side config section overrides them.
        return {
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


def rollup_to_row(site_id: int, r: rollup.HourRollup) -> LinkRollup:
    st = r.stats
    return LinkRollup(
        site_id=site_id,
        hour=r.hour,
        samples=st.samples,
        probes_sent=st.probes_sent,
        probes_lost=st.probes_lost,
        rtt_min_ms=st.rtt_min,
        rtt_p5_ms=st.rtt_p5,
        rtt_median_ms=st.rtt_median,
        rtt_p95_ms=st.rtt_p95,
        rtt_max_ms=st.rtt_max,
        jitter_median_ms=st.jitter_median,
        minutes_green=r.minutes_green,
        minutes_amber=r.minutes_amber,
        minutes_red=r.minutes_red,
        minutes_down=r.minutes_down,
        in_bps_avg=r.in_bps_avg,
        in_bps_max=r.in_bps_max,
        out_bps_avg=r.out_bps_avg,
        out_bps_max=r.out_bps_max,
    )


def _event_figures(figures: dict[str, Any]) -> dict[str, Any]:
    keys = ("rtt_ms_median", "jitter_ms", "loss_pct", "tmax_ms", "reason")
    return {k: figures[k] for k in keys if k in figures}


# --- history (SmokePing-style buckets) ---------------------------------------------------------

RANGES = {"24h": (timedelta(hours=24), 300), "7d": (timedelta(days=7), 3600), "30d": (timedelta(days=30), 4 * 3600)}


def history(lh: LinkHealth, info: SiteInfo, range_key: str, now: datetime | None = None) -> dict[str, Any]:
    """Buckets of median RTT with its spread, and loss. 24 h from raw samples (5-min
    buckets); 7 d from hourly rollups; 30 d from rollups merged in 4-h buckets (there the
    median is the median of hourly medians and p95 the largest hourly p95). The hour in
    progress, not yet rolled up, is computed from raw."""
    now = now or utcnow()
    span, bucket_s = RANGES[range_key]
    start = now - span
    buckets: list[dict[str, Any]] = []
    with session_scope(lh.engine) as session:
        if range_key == "24h":
            rows = session.exec(
                select(LinkSample)
                .where(LinkSample.site_id == info.site_id, LinkSample.source == "probe", LinkSample.at >= start)
                .order_by(col(LinkSample.at))
            ).all()
            grouped: dict[int, list[rollup.ProbeSample]] = {}
            for r in rows:
                ps = as_probe_sample(r)
                grouped.setdefault(int(ps.at.timestamp()) // bucket_s * bucket_s, []).append(ps)
            for key in sorted(grouped):
                buckets.append(_bucket_json(key, bucket_s, rollup.bucket_stats(grouped[key])))
        else:
            rows_r = session.exec(
                select(LinkRollup)
                .where(LinkRollup.site_id == info.site_id, LinkRollup.hour >= rollup.hour_floor(start))
                .order_by(col(LinkRollup.hour))
            ).all()
            hours = [_stats_of_row(r) for r in rows_r]
            current = rollup.hour_floor(now)
            if not rows_r or rows_r[-1].hour.astimezone(UTC) < current:
                partial = lh._compute(session, info.site_id, current)
                if partial.stats.samples:
                    hours.append((current, partial.stats))
            merged: dict[int, list[rollup.Stats]] = {}
            for hour, st in hours:
                merged.setdefault(int(hour.timestamp()) // bucket_s * bucket_s, []).append(st)
            for key in sorted(merged):
                buckets.append(_bucket_json(key, bucket_s, _merge(merged[key])))
    return {
        "site": info.code,
        "range": range_key,
        "bucket_s": bucket_s,
        "tmax_ms": lh.settings.linkhealth_tmax_ms,
        "thresholds": lh.thresholds.__dict__,
        "buckets": buckets,
    }


def _stats_of_row(r: LinkRollup) -> tuple[datetime, rollup.Stats]:
    return r.hour.astimezone(UTC), rollup.Stats(
        samples=r.samples,
        probes_sent=r.probes_sent,
        probes_lost=r.probes_lost,
        rtt_min=r.rtt_min_ms,
        rtt_p5=r.rtt_p5_ms,
        rtt_median=r.rtt_median_ms,
        rtt_p95=r.rtt_p95_ms,
        rtt_max=r.rtt_max_ms,
        jitter_median=r.jitter_median_ms,
    )


def _merge(parts: list[rollup.Stats]) -> rollup.Stats:
    if len(parts) == 1:
        return parts[0]
    import statistics

    def vals(attr: str) -> list[float]:
        return [v for v in (getattr(s, attr) for s in parts) if v is not None]

    medians = vals("rtt_median")
    jit = vals("jitter_median")
    return rollup.Stats(
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


def _bucket_json(start_ts: int, bucket_s: int, st: rollup.Stats) -> dict[str, Any]:
    return {
        "start": datetime.fromtimestamp(start_ts, UTC).isoformat(),
        "seconds": bucket_s,
        "samples": st.samples,
        "rtt_median_ms": st.rtt_median,
        "rtt_min_ms": st.rtt_min,
        "rtt_p5_ms": st.rtt_p5,
        "rtt_p95_ms": st.rtt_p95,
        "rtt_max_ms": st.rtt_max,
        "jitter_median_ms": st.jitter_median,
        "probes_sent": st.probes_sent,
        "probes_lost": st.probes_lost,
        "loss_pct": st.loss_pct,
    }


# --- web --------------------------------------------------------------------------------------

LINKHEALTH = web.AppKey("linkhealth", LinkHealth)


async def _site_or_404(request: web.Request) -> SiteInfo:
    code = request.match_info["code"]
    info = await request.app[LINKHEALTH].site(code)
    if info is None:
        raise web.HTTPNotFound(text=f'{{"error": "no site {code}"}}', content_type="application/json")
    return info


async def link_live(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    info = await _site_or_404(request)
    lh = request.app[LINKHEALTH]
    live = lh._live(info.code)
    registry = request.app[REGISTRY]
    return web.json_response(
        {
            **live.as_dict(),
            "name_th": info.name_th,
            "name_en": info.name_en,
            "online": registry.is_online(info.code),
            "plan_down_mbps": info.plan_down_mbps,
            "plan_up_mbps": info.plan_up_mbps,
            "tmax_ms": lh.settings.linkhealth_tmax_ms,
            "thresholds": lh.thresholds.__dict__,
        }
    )


async def link_history(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    info = await _site_or_404(request)
    range_key = request.query.get("range", "24h")
    if range_key not in RANGES:
        raise web.HTTPBadRequest(
            text='{"error": "range must be 24h, 7d or 30d"}', content_type="application/json"
        )
    data = await asyncio.to_thread(history, request.app[LINKHEALTH], info, range_key)
    return web.json_response(data)


async def link_events(request: web.Request) -> web.Response:
    await require_role(request, "viewer")
    info = await _site_or_404(request)
    try:
        limit = max(1, min(1000, int(request.query.get("limit", "200"))))
    except ValueError as exc:
        raise web.HTTPBadRequest(text='{"error": "limit must be a number"}', content_type="application/json") from exc

    def load() -> list[dict[str, Any]]:
        with session_scope(request.app[ENGINE]) as session:
            rows = session.exec(
                select(LinkEvent)
                .where(LinkEvent.site_id == info.site_id)
                .order_by(col(LinkEvent.at).desc(), col(LinkEvent.id).desc())
                .limit(limit)
            ).all()
            return [
                {"id": r.id, "at": r.at.isoformat(), "kind": r.kind, "detail": r.detail} for r in rows
            ]

    return web.json_response(await asyncio.to_thread(load))


async def _linkhealth_ctx(app: web.Application) -> AsyncIterator[None]:
    lh = app[LINKHEALTH]
    await asyncio.to_thread(lh.load_sites)
    registry = app[REGISTRY]
    registry.add_message_handler("link_report", lh.on_link_report)
    registry.add_message_handler("snmp_report", lh.on_snmp_report)
    configure_tasks: set[asyncio.Task[None]] = set()

    async def on_connect(code: str, connected: bool) -> None:
        await lh.on_connect(code, connected)
        if connected:
            # Not awaited here: the agent's ack arrives through the loop that called us.
            task = asyncio.create_task(_configure_agent(app, code))
            configure_tasks.add(task)
            task.add_done_callback(configure_tasks.discard)

    registry.add_connect_listener(on_connect)

    async def tell_the_clerk(code: str, old: str, new: str) -> None:
        # The district's tray turns amber and says so in Thai: the clerk learns of a sick
        # link from the icon, not from a phone call after the briefing has started.
        if not registry.is_online(code):
            return
        task = asyncio.create_task(_send_clerk_link(app, code, CLERK_LINK.get(new, "unknown")))
        configure_tasks.add(task)
        task.add_done_callback(configure_tasks.discard)

    lh.add_status_listener(tell_the_clerk)
    maintenance = asyncio.create_task(lh.maintenance_loop())
    try:
        yield
    finally:
        for task in (maintenance, *configure_tasks):
            task.cancel()
        for task in (maintenance, *configure_tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task


# Link colour at the hub → what the clerk's tray shows (site_agent.clerk.service's clerk_state).
CLERK_LINK = {"green": "ok", "amber": "degraded", "red": "degraded", "down": "down", "unknown": "unknown"}


async def _send_clerk_link(app: web.Application, code: str, link: str) -> None:
    try:
        await app[REGISTRY].send_command(code, "clerk_state", {"link": link}, timeout=10)
    except Exception as exc:  # an agent without the clerk answers ok=False; not fatal
        log.info("could not tell %s its link is %s: %s", code, link, exc)


async def _configure_agent(app: web.Application, code: str) -> None:
    from hub.linkhealth.udp_echo import bound_port

    lh = app[LINKHEALTH]
    args = await asyncio.to_thread(lh.agent_config, code, bound_port(app))
    try:
        await app[REGISTRY].send_command(code, CONFIGURE_COMMAND, args, timeout=10)
    except Exception as exc:  # an old agent without link health answers ok=False; not fatal
        log.info("could not configure link probes on %s: %s", code, exc)


def setup(app: web.Application) -> None:
    """Link health and its satellites: UDP echo, hub-side SNMP poller, alarms."""
    from hub.alarms import service as alarms
    from hub.linkhealth import snmp_poller, udp_echo

    events = app[EVENTS]
    app[LINKHEALTH] = LinkHealth(app[SETTINGS], app[ENGINE], events.publish)
    udp_echo.setup(app)
    app.cleanup_ctx.append(_linkhealth_ctx)
    snmp_poller.setup(app)
    alarms.setup(app)
    r = app.router
    r.add_get("/api/v1/sites/{code}/link", link_live)
    r.add_get("/api/v1/sites/{code}/link/history", link_history)
    r.add_get("/api/v1/sites/{code}/events", link_events)
