"""Monthly report at national size: 878 districts in 76 provinces, a month of link data and attendance.

Builds two SQLite databases for April 2018: one province (20 districts,
raw 5-minute SNMP samples, so its report computes the 95th percentiles from
raw) and the nation (878 districts, hourly rollups, attendance for a daily
briefing, and the month-close p95 snapshot the monthly job leaves behind —
raw SNMP for the whole nation is ~7.8 M rows). Times building the report and
rendering every format (PDF, XLSX, CSV, JSON, HTML) through the hub's
render cache, wall and CPU seconds (CPU is the steadier figure on a shared
machine).

``province_s`` / ``nation_s`` are what a user gets: the build from the
month-close snapshot, then every format from a warm render cache (the
monthly job at 07:00 on the 1st rendered the closed month; its figures are
frozen, so each later download is a hit). ``province_cold_s`` /
``nation_cold_s`` are the first render with the cache empty (renderers
loaded, snapshot stored). ``province_first_s`` is the month's very first
report in a fresh process (p95 from raw samples, WeasyPrint/matplotlib/
openpyxl imported, cache empty). Last line JSON:
{"districts": 878, "province_s": …, "nation_s": …, "province_cold_s": …, …}.

    .venv/bin/python scripts/bench_reports.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hub.attendance.store import AttendanceInterval
from hub.briefings.store import BriefingOccurrence, BriefingSeries
from hub.db import create_db_engine, migrate
from hub.linkhealth.store import LinkRollup, SnmpSample
from hub.models import Link, Site
from hub.reports import render
from hub.reports.cache import RenderCache, render_cached
from hub.reports.model import Month
from hub.reports.service import build_monthly
from hub.reports.store import ReportLinkMonth, ReportTariff
from hub.settings import Settings

BKK = ZoneInfo("Asia/Bangkok")
MONTH = Month(2018, 4)
NOW = datetime(2018, 6, 2, tzinfo=UTC)
LO = datetime(2018, 4, 1, tzinfo=BKK).astimezone(UTC)
HI = datetime(2018, 5, 1, tzinfo=BKK).astimezone(UTC)
FORMATS = ("json", "csv", "xlsx", "html", "pdf")


def provinces(total: int = 878, count: int = 76) -> list[int]:
    base, extra = divmod(total, count)
    return [base + (1 if i < extra else 0) for i in range(count)]


def build(path: Path, sizes: list[int], raw_snmp: bool) -> sa.Engine:
    engine = create_db_engine(f"sqlite:///{path}")
    migrate(engine)
    hours = int((HI - LO).total_seconds() // 3600)
    with engine.begin() as c:
        c.execute(sa.insert(Site.__table__), [{"code": "HUB", "kind": "hub", "name_th": "ศาลากลาง", "name_en": "Hall",  # type: ignore[attr-defined]
                                                "contact_name": "", "contact_phone": "", "contact_email": "", "room": "",
                                                "active": True}])
        sid = 2
        sites, links, tariffs, rollups, snap, snmp, series, occs, intervals = [], [], [], [], [], [], [], [], []
        occ_id = 1
        for p, n in enumerate(sizes):
            codes = [f"P{p:02d}D{d:02d}" for d in range(n)]
            series.append({"id": p + 1, "uid": f"daily-{p}", "title": f"ประชุมประจำวัน จังหวัด {p}",
                           "spec": {"districts": codes}, "passcode": "123456", "sequence": 0,
                           "state": "active", "invited": False, "created_by": "", "created_at": NOW, "updated_at": NOW})
            day_occ = []
            for day in range(30):
                start = datetime(2018, 4, day + 1, 9, tzinfo=BKK).astimezone(UTC)
                occs.append({"id": occ_id, "series_id": p + 1, "key_date": date(2018, 4, day + 1), "starts_at": start,
                             "ends_at": start + timedelta(minutes=30), "state": "ended", "extended_min": 0.0,
                             "note": ""})
                day_occ.append((occ_id, start))
                occ_id += 1
            for d, code in enumerate(codes):
                sites.append({"id": sid, "code": code, "kind": "district", "name_th": f"อำเภอที่ {d} จังหวัด {p}",
                              "name_en": f"District {d}, province {p}", "distance_km": 10.0 + d * 5,
                              "contact_name": "", "contact_phone": "", "contact_email": "", "room": "", "active": True})
                links.append({"site_id": sid, "provider": "NT", "circuit_id": "", "plan_down_mbps": 200,
                              "plan_up_mbps": 80, "monthly_fee_thb": Decimal("1250.00"), "vat_rate": Decimal("0.07"),
                              "billing_start": date(2018, 4, 1), "billed_to": "ที่ทำการปกครองอำเภอ", "snmp_host": "10.0.0.1",
                              "snmp_port": 161, "snmp_version": "2c", "snmp_if_index": 1, "snmp_community_env": "X",
                              "snmp_user": "", "snmp_auth_protocol": "", "snmp_auth_key_env": "",
                              "snmp_priv_protocol": "", "snmp_priv_key_env": ""})
                tariffs.append({"site_code": code, "effective": date(2018, 4, 1),
                                "monthly_fee_thb": Decimal("1250.00"), "vat_rate": Decimal("0.07")})
                for h in range(hours):
                    rollups.append({"site_id": sid, "hour": LO + timedelta(hours=h), "samples": 60,
                                    "probes_sent": 1200, "probes_lost": h % 3, "rtt_median_ms": 10.0 + (h + d) % 7,
                                    "minutes_green": 58, "minutes_amber": 2, "minutes_red": 0, "minutes_down": 0})
                if raw_snmp:
                    for i in range(hours * 12):
                        snmp.append({"site_id": sid, "at": LO + timedelta(seconds=300 * i + 150), "source": "agent",
                                     "state": "ok", "detail": "", "oper_status": 1, "in_bps": 1e6 * (5 + (i * 7) % 90),
                                     "out_bps": 1e6 * (2 + (i * 3) % 40), "events": ""})
                else:
                    snap.append({"site_id": sid, "month": str(MONTH), "p95_down_bps": 9e7, "p95_up_bps": 3e7,
                                 "buckets": hours * 12, "hub_polls": 0, "hub_polls_up": 0,
                                 "rtt_median_ms": 13.0, "rtt_frozen": True})
                for k, (oid, start) in enumerate(day_occ):
                    if (d + k) % 10 == 0:
                        continue  # absent one day in ten
                    late = timedelta(minutes=4 if (d + k) % 7 == 0 else 0)
                    intervals.append({"conference_id": oid, "occurrence_id": oid, "site_code": code,
                                      "started_at": start + late, "ended_at": start + timedelta(minutes=30),
                                      "opened_reason": "joined", "closed_reason": "ended"})
                sid += 1
        for table, rows in ((Site, sites), (Link, links), (ReportTariff, tariffs), (BriefingSeries, series),
                            (BriefingOccurrence, occs), (AttendanceInterval, intervals), (LinkRollup, rollups),
                            (ReportLinkMonth, snap), (SnmpSample, snmp)):
            for i in range(0, len(rows), 50_000):
                c.execute(sa.insert(table.__table__), rows[i:i + 50_000])  # type: ignore[union-attr]
    return engine


def time_report(engine: sa.Engine, cache: RenderCache, formats: tuple[str, ...], settings: Settings,
                *, cold: bool) -> dict[str, float]:
    """Wall seconds of the build and of each format (``cpu_s``: this process's CPU, steadier on a busy machine)."""
    if cold:
        render._charts.cache_clear()  # a cold render draws its charts, as a new report does
        for f in cache.folder.glob("*"):
            f.unlink()
    c0, t0 = time.process_time(), time.perf_counter()
    report = build_monthly(engine, settings, MONTH, NOW)
    out = {"build_s": time.perf_counter() - t0, "build_cpu_s": time.process_time() - c0}
    for fmt in formats:
        c, t = time.process_time(), time.perf_counter()
        render_cached(cache, report, fmt, "th", settings.timezone)
        out[f"{fmt}_s"] = time.perf_counter() - t
        out[f"{fmt}_cpu_s"] = time.process_time() - c
    out["total_s"] = time.perf_counter() - t0
    out["cpu_s"] = time.process_time() - c0
    return {k: round(v, 3) for k, v in out.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="nation without PDF/HTML (tables only)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp))
        t = time.perf_counter()
        province = build(Path(tmp) / "province.db", [20], raw_snmp=True)
        print(f"province database: {time.perf_counter() - t:.1f} s", file=sys.stderr)
        cache = RenderCache(settings.data_dir / "cache" / "reports", settings.reports_cache_mb << 20)
        first = time_report(province, cache, FORMATS, settings, cold=True)
        print(f"province, first report of the month (p95 from raw SNMP; renderers load): {first}", file=sys.stderr)
        cold = time_report(province, cache, FORMATS, settings, cold=True)  # snapshot stored, cache emptied
        print(f"province, cold cache (first render of the month's figures): {cold}", file=sys.stderr)
        p = time_report(province, cache, FORMATS, settings, cold=False)  # the job rendered it: every format a hit
        print(f"province, warm cache (what finance gets after the monthly job): {p}", file=sys.stderr)
        sizes = provinces()
        t = time.perf_counter()
        nation = build(Path(tmp) / "nation.db", sizes, raw_snmp=False)
        print(f"nation database ({sum(sizes)} districts, {len(sizes)} provinces): {time.perf_counter() - t:.1f} s",
              file=sys.stderr)
        nation_formats = FORMATS[:3] if args.quick else FORMATS
        n_cold = time_report(nation, cache, nation_formats, settings, cold=True)
        print(f"nation, cold cache: {n_cold}", file=sys.stderr)
        n = time_report(nation, cache, nation_formats, settings, cold=False)
        print(f"nation, warm cache: {n}", file=sys.stderr)
        print(f"province: {p['total_s']} s warm (target 0.5 s), {cold['total_s']} s cold; "
              f"nation: {n['total_s']} s warm (target 5 s), {n_cold['total_s']} s cold", file=sys.stderr)
        province.dispose()
        nation.dispose()
    print(json.dumps({"districts": sum(sizes), "province_s": p["total_s"], "nation_s": n["total_s"],
                      "province_cold_s": cold["total_s"], "nation_cold_s": n_cold["total_s"],
                      "province_cpu_s": p["cpu_s"], "nation_cpu_s": n["cpu_s"],
                      "province_cold_cpu_s": cold["cpu_s"], "nation_cold_cpu_s": n_cold["cpu_s"],
                      "province_first_s": first["total_s"], "province_cold_pdf_s": cold["pdf_s"],
                      "nation_build_s": n["build_s"], "nation_cold_pdf_s": n_cold.get("pdf_s")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
