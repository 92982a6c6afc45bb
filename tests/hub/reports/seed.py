"""A seeded April 2018 (and May) for the Udon Thani inventory, with hand-computable figures.

What is recorded (every figure in the tests follows from this by hand):
* Songkran week: 7 briefings, 12–18 April 09:00–09:30 (Bangkok), all 20 districts.
* Every district joins each briefing at 09:00:00 and stays to the end
  (interval closed "ended"), except:
  - UDN03 joins 09:05 on 13 April (late: more than 120 s after T0);
    holds the floor 09:15–09:18 on 16 April;
  - UDN04 leaves at 09:20 on 14 April (left early, closed "left");
  - UDN06's link is down all of 15 April (local): no interval that day, its
    24 rollup hours are down, the hub's 24 polls that day fail;
  - UDN09 never joins (absent all month);
  - UDN02 holds the floor 09:10–09:15 on 12 April.
* UDN05 is billed from 10 April (partial first month, 21 of 30 days); its
  samples start then too. UDN07's fee becomes 1,400.00 from 16 May 2018.
* Link rollups: every billed hour green, 1,200 probes, none lost, RTT 12 ms;
  UDN02 has one hour (1 April 10:00 local) with 30 amber minutes and 12 lost.
* SNMP (agent, 5-minute): UDN01, UDN05, UDN06, UDN09. Down 20 Mbps and up
  8 Mbps, except UDN01's first 432 buckets of April at 150 Mbps down (exactly
  the top 5 %: the 95th percentile stays at 20 Mbps). Hub polls hourly for UDN06.
"""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, select

from hub.attendance.store import AttendanceInterval, FloorInterval
from hub.briefings.store import BriefingOccurrence, BriefingSeries
from hub.db import create_db_engine, migrate
from hub.inventory.loader import load_inventory
from hub.inventory.sync import sync_inventory
from hub.linkhealth.store import LinkRollup, SnmpSample
from hub.models import Site
from hub.reports.store import sync_tariffs
from hub.settings import REPO_ROOT, Settings

BKK = ZoneInfo("Asia/Bangkok")
SONGKRAN = [date(2018, 4, d) for d in range(12, 19)]


def local(d: date, h: int, m: int = 0) -> datetime:
    return datetime(d.year, d.month, d.day, h, m, tzinfo=BKK).astimezone(UTC)


def seeded_inventory(tmp: Path) -> Path:
    inv = tmp / "inventory"
    shutil.copytree(REPO_ROOT / "inventory", inv)
    text = (inv / "sites.yaml").read_text(encoding="utf-8")
    text = text.replace('    circuit_id: "NT-UDN-FBB-180105"\n',
                        '    circuit_id: "NT-UDN-FBB-180105"\n    billing_start: 2018-04-10\n')
    text = text.replace('    circuit_id: "NT-UDN-FBB-180107"\n',
                        '    circuit_id: "NT-UDN-FBB-180107"\n'
                        '    fee_changes:\n      - effective: 2018-05-16\n        monthly_fee_thb: "1400.00"\n')
    (inv / "sites.yaml").write_text(text, encoding="utf-8")
    return inv


def seeded_settings(tmp: Path, **over: object) -> Settings:
    return Settings(data_dir=tmp / "var", port=0, host="127.0.0.1", inventory_path=seeded_inventory(tmp),
                    **over)  # type: ignore[arg-type]


def seed(engine: sa.Engine, settings: Settings, *, link: bool = True) -> None:
    """Everything above; ``link=False`` leaves out rollups and SNMP samples.

    A running hub rolls up every hour from the last rollup to now: seeded 2018
    rollups would have it compute eight years of empty hours at start-up.
    """
    inventory = load_inventory(settings.inventory_path)
    sync_inventory(engine, inventory)
    sync_tariffs(engine, inventory)
    with Session(engine) as s:
        ids = {site.code: site.id for site in s.exec(select(Site))}
        codes = [c for c in sorted(ids) if c != "UDN00"]
        series = BriefingSeries(uid="songkran-2561@test", title="ประชุมศูนย์ปฏิบัติการถนนปลอดภัย ช่วงสงกรานต์",
                                spec={"districts": codes}, passcode="123456", state="active")
        s.add(series)
        s.flush()
        occ: dict[date, int] = {}
        for i, d in enumerate(SONGKRAN):
            o = BriefingOccurrence(series_id=series.id or 0, key_date=d, starts_at=local(d, 9),
                                   ends_at=local(d, 9, 30), state="ended", conference_id=100 + i,
                                   opened_at=local(d, 9), ended_at=local(d, 9, 30))
            s.add(o)
            s.flush()
            occ[d] = o.id or 0
        for i, d in enumerate(SONGKRAN):
            for code in codes:
                if code == "UDN09" or (code == "UDN06" and d == date(2018, 4, 15)):
                    continue
                start, end, why = local(d, 9), local(d, 9, 30), "ended"
                if code == "UDN03" and d == date(2018, 4, 13):
                    start = local(d, 9, 5)
                if code == "UDN04" and d == date(2018, 4, 14):
                    end, why = local(d, 9, 20), "left"
                s.add(AttendanceInterval(conference_id=100 + i, occurrence_id=occ[d], site_code=code,
                                         started_at=start, ended_at=end, opened_reason="joined", closed_reason=why))
        s.add(FloorInterval(conference_id=100, occurrence_id=occ[SONGKRAN[0]], site_code="UDN02",
                            granted_at=local(SONGKRAN[0], 9, 10), ended_at=local(SONGKRAN[0], 9, 15),
                            granted_by="operator:chair", closed_reason="released"))
        s.add(FloorInterval(conference_id=104, occurrence_id=occ[SONGKRAN[4]], site_code="UDN03",
                            granted_at=local(SONGKRAN[4], 9, 15), ended_at=local(SONGKRAN[4], 9, 18),
                            granted_by="operator:chair", closed_reason="revoked"))
        s.commit()

    lo, hi = local(date(2018, 4, 1), 0), local(date(2018, 5, 1), 0)
    down_lo, down_hi = local(date(2018, 4, 15), 0), local(date(2018, 4, 16), 0)
    rollups: list[dict[str, object]] = []
    snmp: list[dict[str, object]] = []
    for code in codes:
        sid = ids[code]
        start = local(date(2018, 4, 10), 0) if code == "UDN05" else lo
        h = start
        while h < hi:
            down = code == "UDN06" and down_lo <= h < down_hi
            amber = 30 if code == "UDN02" and h == local(date(2018, 4, 1), 10) else 0
            rollups.append({"site_id": sid, "hour": h, "samples": 0 if down else 60,
                            "probes_sent": 0 if down else 1200, "probes_lost": 12 if amber else 0,
                            "rtt_median_ms": None if down else 12.0, "minutes_green": 0 if down else 60 - amber,
                            "minutes_amber": amber, "minutes_red": 0, "minutes_down": 60 if down else 0})
            if code == "UDN06":
                snmp.append({"site_id": sid, "at": h + timedelta(minutes=30), "source": "hub",
                             "state": "timeout" if down else "ok", "detail": "", "oper_status": None if down else 1,
                             "in_bps": None, "out_bps": None,
                             "events": ""})
            h += timedelta(hours=1)
        if code in ("UDN01", "UDN05", "UDN06", "UDN09"):
            t, n = start, 0
            while t < hi:
                if not (code == "UDN06" and down_lo <= t < down_hi):
                    high = code == "UDN01" and n < 432
                    snmp.append({"site_id": sid, "at": t + timedelta(seconds=150), "source": "agent", "state": "ok",
                                 "detail": "", "oper_status": 1, "in_bps": 150e6 if high else 20e6,
                                 "out_bps": 8e6, "events": ""})
                t += timedelta(minutes=5)
                n += 1
    if not link:
        return
    with engine.begin() as conn:
        conn.execute(sa.insert(LinkRollup.__table__), rollups)  # type: ignore[attr-defined]
        conn.execute(sa.insert(SnmpSample.__table__), snmp)  # type: ignore[attr-defined]


def seeded_engine(tmp: Path) -> tuple[sa.Engine, Settings]:
    settings = seeded_settings(tmp)
    engine = create_db_engine(settings.effective_database_url)
    migrate(engine)
    seed(engine, settings)
    return engine, settings
