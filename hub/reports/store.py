"""The reports room's tables, and its queries over what the other rooms recorded.

Own tables: the effective-dated tariffs synced from the inventory, the
month-close link snapshot (p95 and the hub's check, kept because raw SNMP
samples are purged after ``linkhealth_raw_retention_days``), and the report
runs with their files and mail deliveries. Everything else is read from the
rooms that wrote it: sites and links, briefing occurrences, attendance and
floor intervals, link rollups and SNMP samples. Bulk figures are summed in
SQL so a national month stays fast.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlmodel import Field, Session, SQLModel, col, select

from hub.attendance.store import AttendanceInterval, FloorInterval
from hub.briefings.model import OccState
from hub.briefings.store import BriefingOccurrence, BriefingSeries
from hub.db import session_scope
from hub.inventory.model import Inventory
from hub.linkhealth.store import LinkRollup, SnmpSample
from hub.mail.store import MailOutbox
from hub.models import Link, Site, utcnow
from hub.reports import model as m

# --- tables ------------------------------------------------------------------------------------


class ReportTariff(SQLModel, table=True):
    """One tariff period of one site: fee and VAT rate in force from ``effective``."""

    __tablename__ = "report_tariffs"
    __table_args__ = (sa.UniqueConstraint("site_code", "effective", name="uq_report_tariffs_site_effective"),)

    id: int | None = Field(default=None, primary_key=True)
    site_code: str = Field(max_length=32, index=True)
    effective: date
    monthly_fee_thb: Decimal = Field(sa_column=sa.Column(sa.Numeric(12, 2), nullable=False))
    vat_rate: Decimal = Field(sa_column=sa.Column(sa.Numeric(5, 4), nullable=False))


class ReportLinkMonth(SQLModel, table=True):
    """A closed month's figures that need raw samples, frozen while the samples exist."""

    __tablename__ = "report_link_months"
    __table_args__ = (sa.UniqueConstraint("site_id", "month", name="uq_report_link_months_site_month"),)

    id: int | None = Field(default=None, primary_key=True)
    site_id: int = Field(index=True)
    month: str = Field(max_length=7)
    p95_down_bps: float | None = None
    p95_up_bps: float | None = None
    buckets: int = 0
    hub_polls: int = 0
    hub_polls_up: int = 0
    # The median of the month's hourly RTT medians, frozen with the p95 (migration 0103_report_rollups);
    # rows written before it have rtt_frozen False and the median is ranked from the rollups again.
    rtt_median_ms: float | None = None
    rtt_frozen: bool = False


class ReportRun(SQLModel, table=True):
    """One production of a report: by the monthly job, the API or the CLI."""

    __tablename__ = "report_runs"

    id: int | None = Field(default=None, primary_key=True)
    month: str = Field(max_length=7, index=True)
    trigger: str = Field(max_length=16)  # schedule | api | cli
    lang: str = Field(default="th", max_length=2)
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    ok: bool = False
    error: str = Field(default="", max_length=1000)
    total_thb: Decimal | None = Field(default=None, sa_column=sa.Column(sa.Numeric(14, 2), nullable=True))


class ReportFile(SQLModel, table=True):
    __tablename__ = "report_files"

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="report_runs.id", index=True)
    filename: str = Field(max_length=200)
    mime: str = Field(max_length=100)
    content: bytes = Field(sa_column=sa.Column(sa.LargeBinary, nullable=False))


class ReportDelivery(SQLModel, table=True):
    """A run's files mailed to one address through the outbox (the outbox row holds the state)."""

    __tablename__ = "report_deliveries"

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="report_runs.id", index=True)
    outbox_id: int = Field(unique=True, index=True)


# --- tariffs from the inventory ----------------------------------------------------------------


def sync_tariffs(engine: sa.Engine, inventory: Inventory) -> int:
    """Make ``report_tariffs`` equal the inventory's timeline per site; returns rows changed."""
    changed = 0
    with session_scope(engine) as s:
        have: dict[str, dict[date, ReportTariff]] = {}
        for row in s.exec(select(ReportTariff)).all():
            have.setdefault(row.site_code, {})[row.effective] = row
        for site in inventory.sites:
            link = site.link
            timeline = m.tariff_timeline(
                link.billing_start, link.monthly_fee_thb, link.vat_rate,
                [(c.effective, c.monthly_fee_thb) for c in link.fee_changes],
                [(c.effective, c.vat_rate) for c in link.vat_changes],
            )
            old = have.get(site.code, {})
            wanted = {t.effective for t in timeline}
            for t in timeline:
                found = old.get(t.effective)
                if found is None:
                    s.add(ReportTariff(site_code=site.code, effective=t.effective,
                                       monthly_fee_thb=t.monthly_fee, vat_rate=t.vat_rate))
                    changed += 1
                elif (Decimal(found.monthly_fee_thb), Decimal(found.vat_rate)) != (t.monthly_fee, t.vat_rate):
                    found.monthly_fee_thb, found.vat_rate = t.monthly_fee, t.vat_rate
                    s.add(found)
                    changed += 1
            for eff, row in old.items():
                if eff not in wanted:  # the contract was corrected in the inventory
                    s.delete(row)
                    changed += 1
    return changed


# --- reading what other rooms recorded ---------------------------------------------------------


@dataclass(frozen=True)
class SiteRow:
    site_id: int
    district: m.District


def districts(engine: sa.Engine) -> list[SiteRow]:
    # Columns, not ORM objects: ~2,600 objects for the nation's sites, links and tariffs cost ~1 s.
    si, li, ta = Site, Link, ReportTariff
    with engine.connect() as c:
        rows = c.execute(
            sa.select(col(si.id), col(si.code), col(si.name_th), col(si.name_en), col(si.distance_km),
                      col(li.provider), col(li.plan_down_mbps), col(li.plan_up_mbps), col(li.billed_to),
                      col(li.billing_start), col(li.monthly_fee_thb), col(li.vat_rate))
            .join(li, col(li.site_id) == col(si.id))
            .where(col(si.kind) == "district", col(si.active).is_(True)).order_by(col(si.code))
        ).all()
        tariffs: dict[str, list[m.Tariff]] = {}
        for code, eff, fee, vat in c.execute(
                sa.select(col(ta.site_code), col(ta.effective), col(ta.monthly_fee_thb), col(ta.vat_rate))
                .order_by(col(ta.effective))).all():
            tariffs.setdefault(code, []).append(m.Tariff(eff, Decimal(fee), Decimal(vat)))
    out = []
    for sid, code, name_th, name_en, km, provider, down, up, billed_to, start, fee, vat in rows:
        timeline = tuple(tariffs.get(code) or m.tariff_timeline(start, Decimal(fee), Decimal(vat)))
        out.append(SiteRow(sid, m.District(
            code=code, name_th=name_th, name_en=name_en, distance_km=km, provider=provider,
            plan_down_mbps=down, plan_up_mbps=up, billed_to=billed_to, billing_start=start, tariffs=timeline)))
    return out


def province_names(engine: sa.Engine) -> tuple[str, str]:
    with Session(engine) as s:
        hub = s.exec(select(Site).where(Site.kind == "hub")).first()
    return (hub.name_th, hub.name_en) if hub else ("", "")


NOT_HELD = (OccState.CANCELLED.value, OccState.MISSED.value)


def briefings(engine: sa.Engine, lo: datetime, hi: datetime) -> list[m.Briefing]:
    """Occurrences starting in ``[lo, hi)`` that were held (not cancelled, not missed by the hub)."""
    with Session(engine) as s:
        rows = s.exec(
            select(BriefingOccurrence, BriefingSeries)
            .join(BriefingSeries, col(BriefingSeries.id) == col(BriefingOccurrence.series_id))
            .where(BriefingOccurrence.starts_at >= lo, BriefingOccurrence.starts_at < hi,
                   col(BriefingOccurrence.state).not_in(NOT_HELD))
            .order_by(col(BriefingOccurrence.starts_at))
        ).all()
    out = []
    for occ, series in rows:
        assert occ.id is not None
        out.append(m.Briefing(occ.id, series.title, occ.starts_at, occ.ended_at or occ.ends_at,
                              tuple(series.spec.get("districts", []))))
    return out


def occurrence_ids_of_series(engine: sa.Engine, series_id: int) -> set[int]:
    with Session(engine) as s:
        return {i for i in s.exec(select(BriefingOccurrence.id).where(BriefingOccurrence.series_id == series_id))
                if i is not None}


def occurrence(engine: sa.Engine, occurrence_id: int) -> tuple[m.Briefing, dict[str, tuple[str, str]]] | None:
    """One occurrence as a briefing, and the names of its districts."""
    with Session(engine) as s:
        occ = s.get(BriefingOccurrence, occurrence_id)
        if occ is None:
            return None
        series = s.get(BriefingSeries, occ.series_id)
        codes = tuple(series.spec.get("districts", [])) if series else ()
        names = {site.code: (site.name_th, site.name_en)
                 for site in s.exec(select(Site).where(col(Site.code).in_(list(codes))))}
        return m.Briefing(occurrence_id, series.title if series else "", occ.starts_at,
                          occ.ended_at or occ.ends_at, codes), names


def intervals(engine: sa.Engine, lo: datetime, hi: datetime, until: datetime) -> list[m.Interval]:
    """Attendance intervals overlapping the period; one still open counts up to ``until``."""
    a = AttendanceInterval
    with engine.connect() as c:  # columns, not ORM objects: ~24 k rows for a national month
        rows = c.execute(sa.select(col(a.occurrence_id), col(a.site_code), col(a.started_at), col(a.ended_at),
                                   col(a.closed_reason)).where(
            col(a.started_at) < hi, sa.or_(col(a.ended_at).is_(None), col(a.ended_at) > lo))).all()
    return [m.Interval(occ, site, start, end or until, closed) for occ, site, start, end, closed in rows]


def floors(engine: sa.Engine, lo: datetime, hi: datetime, until: datetime) -> list[m.Interval]:
    f = FloorInterval
    with engine.connect() as c:
        rows = c.execute(sa.select(col(f.occurrence_id), col(f.site_code), col(f.granted_at), col(f.ended_at),
                                   col(f.closed_reason)).where(
            col(f.granted_at) < hi, sa.or_(col(f.ended_at).is_(None), col(f.ended_at) > lo))).all()
    return [m.Interval(occ, site, start, end or until, closed) for occ, site, start, end, closed in rows]


@dataclass(frozen=True)
class RollupSums:
    green: int
    amber: int
    red: int
    sent: int
    lost: int
    rtt_median: float | None  # median of the hourly medians


def rollup_sums(engine: sa.Engine, site_ids: Sequence[int], lo: datetime, hi: datetime,
                median_for: Sequence[int] | None = None) -> dict[int, RollupSums]:
    """Minutes by colour, probe counts and the median hourly RTT per site over ``[lo, hi)``, by the database.

    The median is the middle one or two of each site's hourly medians, picked with
    window functions (SQLite and PostgreSQL alike), and averaged here exactly as
    ``statistics.median`` does: a national month no longer ships its 653 k
    hourly rows to Python (that fetch was ~5 s of the national report). The
    ranking itself is most of what is left (~1.5 s a national month), so it runs
    only for ``median_for`` (default: every site): the others' closed-month
    median is in the snapshot.
    """
    if not site_ids:
        return {}
    r = LinkRollup
    where = (col(r.site_id).in_(site_ids), col(r.hour) >= lo, col(r.hour) < hi)
    with engine.connect() as c:
        sums = c.execute(
            sa.select(col(r.site_id), sa.func.sum(col(r.minutes_green)), sa.func.sum(col(r.minutes_amber)),
                      sa.func.sum(col(r.minutes_red)), sa.func.sum(col(r.probes_sent)),
                      sa.func.sum(col(r.probes_lost)))
            .where(*where).group_by(col(r.site_id))
        ).all()
        ranked = (
            sa.select(col(r.site_id).label("site_id"), col(r.rtt_median_ms).label("v"),
                      sa.func.row_number().over(partition_by=col(r.site_id), order_by=col(r.rtt_median_ms))
                      .label("k"),
                      sa.func.count().over(partition_by=col(r.site_id)).label("n"))
            .where(*(where if median_for is None else (col(r.site_id).in_(median_for), *where[1:])),
                   col(r.rtt_median_ms).is_not(None)).subquery()
        )
        # Integer division: n odd → k = (n+1)/2 twice over; n even → k = n/2 and n/2 + 1.
        middle = c.execute(sa.select(ranked.c.site_id, ranked.c.v).where(
            sa.or_(ranked.c.k == (ranked.c.n + 1) // 2, ranked.c.k == ranked.c.n // 2 + 1))
            .order_by(ranked.c.site_id, ranked.c.k)).all() if median_for is None or median_for else []
    mids: dict[int, list[float]] = {}
    for sid, v in middle:
        mids.setdefault(sid, []).append(v)
    medians = {sid: (v[0] if len(v) == 1 else (v[0] + v[1]) / 2) for sid, v in mids.items()}
    return {sid: RollupSums(int(g or 0), int(a or 0), int(rd or 0), int(sent or 0), int(lost or 0),
                            medians.get(sid))
            for sid, g, a, rd, sent, lost in sums}


def link_month_snapshot(engine: sa.Engine, month: str) -> dict[int, ReportLinkMonth]:
    with Session(engine, expire_on_commit=False) as s:
        return {row.site_id: row for row in s.exec(select(ReportLinkMonth).where(ReportLinkMonth.month == month))}


def compute_link_months(engine: sa.Engine, site_ids: Sequence[int], lo: datetime,
                        hi: datetime) -> dict[int, ReportLinkMonth]:
    """p95 of the agents' 5-minute rates and the hubs' own polls per site, from the raw SNMP samples.

    One query for all the sites, three numeric columns (epoch seconds computed by
    the database: parsing ~9,000 timestamps per district in Python was most of the
    cost), then numpy per site (:func:`hub.reports.model.p95_of_arrays`). The
    hub's polls are counted by the database.
    """
    if not site_ids:
        return {}
    sn = SnmpSample
    with engine.connect() as c:
        rows = c.execute(
            sa.select(col(sn.site_id), sa.extract("epoch", col(sn.at)), col(sn.in_bps), col(sn.out_bps))
            .where(col(sn.site_id).in_(site_ids), col(sn.at) >= lo, col(sn.at) < hi, col(sn.source) == "agent")
            .order_by(col(sn.site_id))
        ).all()
        polls = {sid: (int(n), int(up or 0)) for sid, n, up in c.execute(
            sa.select(col(sn.site_id), sa.func.count(),
                      sa.func.sum(sa.case((sa.and_(col(sn.oper_status) == 1, col(sn.state) == "ok"), 1), else_=0)))
            .where(col(sn.site_id).in_(site_ids), col(sn.at) >= lo, col(sn.at) < hi, col(sn.source) == "hub")
            .group_by(col(sn.site_id)))}
    # Plain tuples: numpy would probe a Row as a mapping first (a million failed key look-ups).
    table = np.array([tuple(r) for r in rows], dtype=np.float64).reshape(-1, 4)  # a missing rate (None): NaN
    spans: dict[int, tuple[int, int]] = {}
    if len(table):  # rows are ordered by site: each site's rows are one run
        starts = np.flatnonzero(np.r_[True, table[1:, 0] != table[:-1, 0]]).tolist()
        spans = {int(table[a, 0]): (a, b) for a, b in zip(starts, [*starts[1:], len(table)], strict=True)}
    out: dict[int, ReportLinkMonth] = {}
    for sid in site_ids:
        a, b = spans.get(sid, (0, 0))
        down, buckets = m.p95_of_arrays(table[a:b, 1], table[a:b, 2])
        up, _ = m.p95_of_arrays(table[a:b, 1], table[a:b, 3])
        n, n_up = polls.get(sid, (0, 0))
        out[sid] = ReportLinkMonth(site_id=sid, month="", p95_down_bps=down, p95_up_bps=up, buckets=buckets,
                                   hub_polls=n, hub_polls_up=n_up)
    return out


def save_link_months(engine: sa.Engine, month: str, rows: Iterable[ReportLinkMonth]) -> None:
    with session_scope(engine) as s:
        for row in rows:
            s.add(ReportLinkMonth(site_id=row.site_id, month=month, p95_down_bps=row.p95_down_bps,
                                  p95_up_bps=row.p95_up_bps, buckets=row.buckets, hub_polls=row.hub_polls,
                                  hub_polls_up=row.hub_polls_up, rtt_median_ms=row.rtt_median_ms,
                                  rtt_frozen=row.rtt_frozen))


# --- runs ----------------------------------------------------------------------------------------


def start_run(engine: sa.Engine, month: str, trigger: str, lang: str) -> int:
    with session_scope(engine) as s:
        run = ReportRun(month=month, trigger=trigger, lang=lang)
        s.add(run)
        s.flush()
        assert run.id is not None
        return run.id


def finish_run(engine: sa.Engine, run_id: int, *, ok: bool, error: str = "", total: Decimal | None = None,
               files: Sequence[tuple[str, str, bytes]] = ()) -> None:
    with session_scope(engine) as s:
        run = s.get(ReportRun, run_id)
        assert run is not None
        run.ok, run.error, run.total_thb, run.finished_at = ok, error[:1000], total, utcnow()
        s.add(run)
        for name, mime, content in files:
            s.add(ReportFile(run_id=run_id, filename=name, mime=mime, content=content))


def attachments_for_outbox(engine: sa.Engine, outbox_id: int) -> list[tuple[str, str, bytes]]:
    """The files of the run an outbox row delivers (the outbox asks at send time)."""
    with Session(engine) as s:
        delivery = s.exec(select(ReportDelivery).where(ReportDelivery.outbox_id == outbox_id)).first()
        if delivery is None:
            return []
        files = s.exec(select(ReportFile).where(ReportFile.run_id == delivery.run_id)
                       .order_by(col(ReportFile.id))).all()
        return [(f.filename, f.mime, f.content) for f in files]


def runs(engine: sa.Engine, limit: int = 24) -> list[dict[str, Any]]:
    with Session(engine) as s:
        rows = s.exec(select(ReportRun).order_by(col(ReportRun.id).desc()).limit(limit)).all()
        out = []
        for run in rows:
            files = s.exec(select(ReportFile.id, ReportFile.filename).where(ReportFile.run_id == run.id)).all()
            mails = s.exec(
                select(MailOutbox).join(ReportDelivery, col(ReportDelivery.outbox_id) == col(MailOutbox.id))
                .where(ReportDelivery.run_id == run.id)).all()
            out.append({
                "id": run.id, "month": run.month, "trigger": run.trigger, "lang": run.lang, "ok": run.ok,
                "error": run.error, "started_at": run.started_at.isoformat(),
                "finished_at": run.finished_at.isoformat() if run.finished_at else None,
                "total_thb": str(run.total_thb) if run.total_thb is not None else None,
                "files": [{"id": fid, "name": name} for fid, name in files],
                "deliveries": [{"to": mail.to_addr, "state": mail.state, "attempts": mail.attempts,
                                "last_error": mail.last_error,
                                "sent_at": mail.sent_at.isoformat() if mail.sent_at else None} for mail in mails],
            })
    return out


def run_file(engine: sa.Engine, file_id: int) -> ReportFile | None:
    with Session(engine, expire_on_commit=False) as s:
        return s.get(ReportFile, file_id)


def has_good_run(engine: sa.Engine, month: str, trigger: str) -> bool:
    with Session(engine) as s:
        return s.exec(select(ReportRun.id).where(ReportRun.month == month, ReportRun.trigger == trigger,
                                                 col(ReportRun.ok).is_(True))).first() is not None
