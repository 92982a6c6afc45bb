"""Hourly rollups against a hand-computed fixture; stored rollups equal a recompute from raw."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import select

from hub.db import session_scope
from hub.linkhealth import rollup
from hub.linkhealth.intake import LinkHealth
from hub.linkhealth.store import LinkRollup, LinkSample, SnmpSample, rollup_to_row
from hub.settings import Settings
from site_agent import protocol as p

H = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)


def at(minute: int, second: int = 0) -> datetime:
    return H + timedelta(minutes=minute, seconds=second)


# (measured at, step s, probes, status, median, min, max, jitter, loss %)
FIXTURE = [
    (at(1), 60, 20, "green", 4.0, 3.0, 6.0, 0.5, 0.0),  # covers minute 0
    (at(2), 60, 20, "green", 5.0, 4.0, 9.0, 0.7, 5.0),  # minute 1, 1 probe lost
    (at(3), 60, 20, "red", 40.0, 20.0, 80.0, 12.0, 10.0),  # minute 2, 2 lost
    (at(4, 30), 60, 20, "amber", 120.0, 110.0, 130.0, 31.0, 0.0),  # [03:30, 04:30): minutes 3 and 4
    (at(5), 60, 20, "green", 6.0, 5.0, 7.0, 0.6, 0.0),  # minute 4 (amber wins)
    # minutes 5..56: no report at all (agent offline) → down
    (at(59), 120, 40, "green", 3.0, 2.5, 3.5, 0.4, 0.0),  # minutes 57, 58
    (at(60, 30), 60, 20, "red", 50.0, 45.0, 55.0, 9.0, 0.0),  # next hour, but covers minute 59
    (at(-1, -10), 60, 20, "red", 99.0, 99.0, 99.0, 99.0, 50.0),  # previous hour, touches nothing here
]
RATES = [(at(10), 100e6, 20e6), (at(20), 150e6, 40e6), (at(30), None, 30e6), (at(61), 999e6, 999e6)]

EXPECTED = {
    "samples": 6,
    "probes_sent": 140,
    "probes_lost": 3,
    "rtt_min": 2.5,
    "rtt_p5": 3.0,
    "rtt_median": 5.5,  # sorted step medians 3, 4, 5, 6, 40, 120
    "rtt_p95": 120.0,  # nearest rank: ceil(0.95 × 6) = 6th
    "rtt_max": 130.0,
    "jitter_median": 0.65,
    "minutes": (4, 2, 2, 52),  # green 0,1,57,58; amber 3,4; red 2,59; down 5..56
    "in": (125e6, 150e6),
    "out": (30e6, 40e6),
}


def samples() -> list[rollup.ProbeSample]:
    return [rollup.ProbeSample(a, s, n, st, m, lo, hi, j, loss) for a, s, n, st, m, lo, hi, j, loss in FIXTURE]


def check(r: rollup.HourRollup) -> None:
    st = r.stats
    assert r.hour == H
    assert st.samples == EXPECTED["samples"]
    assert (st.probes_sent, st.probes_lost) == (EXPECTED["probes_sent"], EXPECTED["probes_lost"])
    assert st.loss_pct == pytest.approx(300 / 140)
    assert (st.rtt_min, st.rtt_p5, st.rtt_median, st.rtt_p95, st.rtt_max) == (
        EXPECTED["rtt_min"], EXPECTED["rtt_p5"], EXPECTED["rtt_median"], EXPECTED["rtt_p95"], EXPECTED["rtt_max"],
    )
    assert st.jitter_median == pytest.approx(EXPECTED["jitter_median"])
    assert (r.minutes_green, r.minutes_amber, r.minutes_red, r.minutes_down) == EXPECTED["minutes"]
    assert (r.in_bps_avg, r.in_bps_max) == EXPECTED["in"]
    assert (r.out_bps_avg, r.out_bps_max) == EXPECTED["out"]


def test_rollup_matches_the_hand_computed_hour() -> None:
    rates = [rollup.RateSample(a, i, o) for a, i, o in RATES]
    check(rollup.rollup_hour(H + timedelta(minutes=17), samples(), rates))


def test_empty_hour_is_all_down() -> None:
    r = rollup.rollup_hour(H, [])
    assert r.minutes_down == 60 and r.stats.samples == 0 and r.stats.loss_pct is None


def test_stored_rollups_equal_recompute_from_raw_and_retention(engine: sa.Engine, settings: Settings) -> None:
    settings = settings.model_copy(update={"linkhealth_raw_retention_days": 2})
    lh = LinkHealth(settings, engine, lambda kind, data: None)
    lh.load_sites()
    site_id = lh.sites["UDN01"].site_id
    with session_scope(engine) as session:
        for a, s, n, st, m, lo, hi, j, loss in FIXTURE:
            session.add(LinkSample(site_id=site_id, at=a, source="probe", step_s=s, probes=n, status=st,
                                   rtt_median_ms=m, rtt_min_ms=lo, rtt_max_ms=hi, jitter_ms=j, loss_pct=loss,
                                   tmax_ms=1000))
        # A WebRTC report in the hour is kept raw but is not a probe: it must not count.
        session.add(LinkSample(site_id=site_id, at=at(30), source="webrtc", step_s=10, probes=500, status="red",
                               rtt_median_ms=900, loss_pct=50))
        for a, i, o in RATES:
            session.add(SnmpSample(site_id=site_id, at=a, source="agent", state="ok", in_bps=i, out_bps=o))
    # Not yet: the hour's last minute still waits for reports measured just after it.
    assert lh.rollup_pending(now=H + timedelta(minutes=61)) == 1  # only the previous hour (00:00)
    written = lh.rollup_pending(now=H + timedelta(hours=2, minutes=30))
    assert written == 2  # 01:00 and 02:00
    assert lh.rollup_pending(now=H + timedelta(hours=2, minutes=30)) == 0  # idempotent
    with session_scope(engine) as session:
        stored = session.exec(select(LinkRollup).where(LinkRollup.site_id == site_id, LinkRollup.hour == H)).one()
    fresh = rollup_to_row(site_id, lh.compute_hour(site_id, H))
    cols = [c for c in LinkRollup.model_fields if c != "id"]
    assert {c: getattr(stored, c) for c in cols} == {c: getattr(fresh, c) for c in cols}
    check(lh.compute_hour(site_id, H))

    # Retention: raw older than 2 days goes, but only where the hour is rolled up;
    # rollups stay for 13 months, older ones go.
    raw, old = lh.purge(now=H + timedelta(days=10))
    assert raw == len(FIXTURE) + 1 - 1 + len(RATES) - 1  # all but the two rows of the not-rolled-up 02:00 hour
    assert old == 0
    with session_scope(engine) as session:
        assert session.exec(select(sa.func.count()).select_from(LinkRollup)).one() == 3
    assert lh.purge(now=H + timedelta(days=396))[1] == 0
    assert lh.purge(now=H + timedelta(days=402))[1] == 3


def test_reports_arriving_together_share_a_transaction_and_a_bad_row_loses_no_other(
        engine: sa.Engine, settings: Settings) -> None:
    """Group commit (hub.linkhealth.intake): 1,000 districts' reports are not 1,000 commits."""
    lh = LinkHealth(settings, engine, lambda kind, data: None)
    lh.load_sites()
    commits: list[int] = []
    sa.event.listen(engine, "commit", lambda conn: commits.append(1))
    codes = sorted(lh.sites)[:20]

    def reports(k: int) -> list[Any]:
        return [lh.on_link_report(code, p.LinkReport(step_s=10, probes=20, rtt_ms_median=4.0 + k,
                                                    measured_at=H.timestamp() + k)) for code in codes]

    async def together() -> list[Any]:
        return await asyncio.gather(*reports(0))

    async def with_a_bad_row() -> list[Any]:
        # a row whose site does not exist (foreign key): refused, alone
        bad = lh._insert(LinkSample(site_id=999_999, at=H, source="probe", step_s=10, probes=20, status="green"))
        return await asyncio.gather(*reports(1), bad, return_exceptions=True)

    assert asyncio.run(together()) == [None] * len(codes)
    assert len(commits) == 1  # twenty reports, one transaction
    results = asyncio.run(with_a_bad_row())
    assert results[:-1] == [None] * len(codes), results
    assert isinstance(results[-1], sa.exc.IntegrityError)
    with session_scope(engine) as session:
        stored = session.exec(select(LinkSample).where(LinkSample.source == "probe")).all()
    assert len(stored) == 2 * len(codes)
