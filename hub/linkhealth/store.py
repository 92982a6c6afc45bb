"""Link-health tables and their queries (blocking: the service calls them through asyncio.to_thread).

Raw samples (probe steps, SNMP polls) are kept ``linkhealth_raw_retention_days``;
hourly rollups (hub.linkhealth.rollup) ``linkhealth_rollup_retention_days``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, Session, SQLModel, col, select

from hub.db import session_scope
from hub.linkhealth import rollup
from hub.models import Link, Site, utcnow
from site_agent.netmon.snmp import SnmpTarget, target_from_env_refs
from site_agent.netmon.thresholds import Thresholds

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


@dataclass
class SiteInfo:
    code: str
    site_id: int
    name_th: str
    name_en: str
    plan_down_mbps: float
    plan_up_mbps: float


def load_sites(engine: sa.Engine) -> list[SiteInfo]:
    with session_scope(engine) as session:
        rows = session.exec(select(Site, Link).join(Link, Link.site_id == Site.id, isouter=True)).all()  # type: ignore[arg-type]
        out = []
        for site, link in rows:
            assert site.id is not None
            out.append(SiteInfo(
                code=site.code,
                site_id=site.id,
                name_th=site.name_th,
                name_en=site.name_en,
                plan_down_mbps=float(link.plan_down_mbps) if link else 200.0,
                plan_up_mbps=float(link.plan_up_mbps) if link else 80.0,
            ))
        return out


def insert(engine: sa.Engine, row: SQLModel) -> None:
    with session_scope(engine) as session:
        session.add(row)


def insert_many(engine: sa.Engine, rows: list[SQLModel]) -> list[BaseException | None]:
    """Write rows in one transaction; if it fails, row by row, so one bad row loses no other.

    Returns, per row, None when written or the error that kept it out.
    """
    try:
        with session_scope(engine) as session:
            session.add_all(rows)
        return [None] * len(rows)
    except Exception:  # find which rows are bad: each gets its own answer
        results: list[BaseException | None] = []
        for row in rows:
            try:
                insert(engine, row)
                results.append(None)
            except Exception as exc:
                results.append(exc)
        return results


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


# --- rollups and retention ---------------------------------------------------------------


def compute_hour(session: Session, site_id: int, hour: datetime) -> rollup.HourRollup:
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


def rollup_pending(engine: sa.Engine, site_ids: list[int], current_hour: datetime) -> int:
    """Roll up every completed hour before ``current_hour`` not rolled up yet. Returns hours written."""
    written = 0
    with session_scope(engine) as session:
        for site_id in site_ids:
            last = session.exec(select(sa.func.max(LinkRollup.hour)).where(LinkRollup.site_id == site_id)).one()
            if last is not None:
                start = rollup.hour_floor(last) + rollup.HOUR
            else:
                first = session.exec(select(sa.func.min(LinkSample.at)).where(LinkSample.site_id == site_id)).one()
                if first is None:
                    continue
                start = rollup.hour_floor(first)
            for hour in rollup.hours_between(start, current_hour):
                session.add(rollup_to_row(site_id, compute_hour(session, site_id, hour)))
                written += 1
    return written


def purge(engine: sa.Engine, site_ids: list[int], raw_cut: datetime, roll_cut: datetime) -> tuple[int, int]:
    """Delete raw samples before ``raw_cut`` (only hours already rolled up) and rollups before ``roll_cut``."""
    with session_scope(engine) as session:
        deleted = 0
        for site_id in site_ids:
            last = session.exec(select(sa.func.max(LinkRollup.hour)).where(LinkRollup.site_id == site_id)).one()
            if last is None:
                continue
            cut = min(raw_cut, last.astimezone(UTC))
            for stmt in (
                sa.delete(LinkSample).where(col(LinkSample.site_id) == site_id, col(LinkSample.at) < cut),
                sa.delete(SnmpSample).where(col(SnmpSample.site_id) == site_id, col(SnmpSample.at) < cut),
            ):
                result = session.execute(stmt)
                deleted += int(getattr(result, "rowcount", 0) or 0)
        result = session.execute(sa.delete(LinkRollup).where(col(LinkRollup.hour) < roll_cut))
        return deleted, int(getattr(result, "rowcount", 0) or 0)


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


# --- history (SmokePing-style buckets) ---------------------------------------------------------

def history(
    engine: sa.Engine, info: SiteInfo, range_key: str, now: datetime, *, tmax_ms: float, thresholds: Thresholds
) -> dict[str, Any]:
    """Buckets of median RTT with its spread, and loss. 24 h from raw samples (5-min
    buckets); 7 d from hourly rollups; 30 d from rollups merged in 4-h buckets (there the
    median is the median of hourly medians and p95 the largest hourly p95). The hour in
    progress, not yet rolled up, is computed from raw."""
    span, bucket_s = rollup.RANGES[range_key]
    start = now - span
    buckets: list[dict[str, Any]] = []
    with session_scope(engine) as session:
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
                partial = compute_hour(session, info.site_id, current)
                if partial.stats.samples:
                    hours.append((current, partial.stats))
            merged: dict[int, list[rollup.Stats]] = {}
            for hour, st in hours:
                merged.setdefault(int(hour.timestamp()) // bucket_s * bucket_s, []).append(st)
            for key in sorted(merged):
                buckets.append(_bucket_json(key, bucket_s, rollup.merge_stats(merged[key])))
    return {
        "site": info.code,
        "range": range_key,
        "bucket_s": bucket_s,
        "tmax_ms": tmax_ms,
        "thresholds": thresholds.to_json(),
        "buckets": buckets,
    }


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


# --- events ------------------------------------------------------------------------------------


def link_events(engine: sa.Engine, site_id: int, limit: int) -> list[dict[str, Any]]:
    with session_scope(engine) as session:
        rows = session.exec(
            select(LinkEvent)
            .where(LinkEvent.site_id == site_id)
            .order_by(col(LinkEvent.at).desc(), col(LinkEvent.id).desc())
            .limit(limit)
        ).all()
        return [{"id": r.id, "at": r.at.isoformat(), "kind": r.kind, "detail": r.detail} for r in rows]


# --- SNMP targets of the district routers (the inventory's ``links``) ----------------------------


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


def snmp_targets(engine: sa.Engine) -> dict[str, SnmpTarget]:
    """Every district router with an SNMP host, by site code."""
    with session_scope(engine) as session:
        rows = session.exec(select(Site, Link).join(Link, Link.site_id == Site.id)).all()  # type: ignore[arg-type]
        return {site.code: target_for_link(link) for site, link in rows if link.snmp_host}


def snmp_target_of(engine: sa.Engine, code: str) -> SnmpTarget | None:
    with session_scope(engine) as session:
        row = session.exec(select(Link).join(Site, Site.id == Link.site_id).where(Site.code == code)).first()  # type: ignore[arg-type]
    if row is None or not row.snmp_host:
        return None
    return target_for_link(row)
