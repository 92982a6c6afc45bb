"""Each occurrence runs by itself against a real hub with real connected agents:
readiness (T−lead), reminder, open + auto-join at T0, end at T+duration — in that order.
Leads are shortened through settings so a whole timeline takes seconds."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from hub.keys import ENGINE, EVENTS

from .harness import TestHub, agents, wait_for

# Real agents across hub restarts on a clock of seconds: run alone (scripts/test), not beside
# the parallel pass, whose load turned a 15 s reconnect window into a miss.
pytestmark = pytest.mark.realtime

BKK = ZoneInfo("Asia/Bangkok")


def soon(seconds: float, **over: Any) -> tuple[dict[str, Any], float]:
    """A one-off series starting ``seconds`` from now (whole seconds, Bangkok time)."""
    at = datetime.now(BKK) + timedelta(seconds=seconds)
    t0 = at.replace(microsecond=0) + timedelta(seconds=1)  # start_time has whole seconds
    body: dict[str, Any] = {
        "title": "ทดสอบกำหนดการ",
        "organizer_email": "po@udon.example",
        "districts": ["UDN01", "UDN02", "UDN03", "UDN04"],
        "start_date": t0.date().isoformat(),
        "start_time": t0.strftime("%H:%M:%S"),
        "duration_min": 0.05,  # 3 s
        "recurrence": "once",
    }
    body.update(over)
    return body, t0.timestamp()


@pytest.mark.slow
async def test_readiness_reminder_open_join_end_in_order(tmp_path: Path) -> None:
    hub = TestHub(tmp_path / "hub", schedule_readiness_lead_s=2.0, schedule_reminder_lead_s=1.2,
                  schedule_late_after_s=30, schedule_selftest_timeout_s=3)
    await hub.start()
    try:
        assert hub.app is not None
        sub = hub.app[EVENTS].subscribe()
        async with agents(hub, ["UDN01", "UDN02", "UDN03"], tmp_path) as probes:
            probes["UDN02"].ready = False
            probes["UDN02"].reasons = ["กล้องไม่ทำงาน / camera not working"]
            body, t0 = soon(3.5)
            status, series = await hub.api("POST", "/api/v1/series", body)
            assert status == 201, series
            (occ,) = series["occurrences"]
            oid = occ["id"]
            assert occ["state"] == "scheduled"

            await wait_for(lambda: all(len(p.times("leave")) == 1 for p in probes.values()), timeout=15)
            for code, p in probes.items():
                assert p.names() == ["selftest", "reminder", "join", "leave"], (code, p.names())
                (sel,), (rem,), (join,), (leave,) = (p.times(n) for n in ("selftest", "reminder", "join", "leave"))
                assert abs(sel - (t0 - 2.0)) < 0.5, code
                assert abs(rem - (t0 - 1.2)) < 0.5, code
                assert 0 <= join - t0 < 0.8, code  # auto-join at T0
                assert abs(leave - (t0 + 3.0)) < 0.8, code

            status, board = await hub.api("GET", f"/api/v1/occurrences/{oid}/readiness")
            assert status == 200
            assert board["occurrence"]["state"] == "ended"
            # The joins were the conference manager's, for the occurrence's conference.
            conference_id = board["occurrence"]["conference_id"]
            assert isinstance(conference_id, int)
            for p in probes.values():
                assert p.got[2][2]["conference_id"] == conference_id
            rows = {r["code"]: r for r in board["districts"]}
            assert rows["UDN01"]["ready"] is True and rows["UDN03"]["ready"] is True
            assert rows["UDN02"]["ready"] is False and "camera" in rows["UDN02"]["reasons"][0]
            assert rows["UDN04"]["ready"] is False and "offline" in rows["UDN04"]["reasons"][0]
            for code in ("UDN01", "UDN02", "UDN03"):
                assert rows[code]["presence"] == "joined" and rows[code]["reminded_at"]
            assert rows["UDN04"]["presence"] == "waiting" and rows["UDN04"]["joined_at"] is None

            events = []
            while not sub.queue.empty():
                events.append(json.loads(sub.queue.get_nowait()))
            alerts = [e["data"] for e in events if e["kind"] == "alert"]
            assert sorted(a["site"] for a in alerts) == ["UDN02", "UDN04"]
            phones = {a["site"]: a["contact_phone"] for a in alerts}
            assert phones["UDN02"] and phones["UDN02"] in next(a["message"] for a in alerts if a["site"] == "UDN02")
            assert any(e["kind"] == "readiness" for e in events)
            assert {"id": series["id"], "action": "create"} in [e["data"] for e in events if e["kind"] == "series"]
            # The offline district has an alarm, critical before the briefing.
            status, alarms = await hub.api("GET", "/api/v1/alarms?open=1")
            offline = [a for a in alarms if a["site"] == "UDN04"]
            assert offline and offline[0]["kind"] == "offline", alarms
            assert offline[0]["severity"] == "critical" and offline[0]["briefing_at"]
            # Online but its camera failed: an alarm of its own, with the phone to call.
            not_ready = [a for a in alarms if a["site"] == "UDN02" and a["kind"] == "not_ready"]
            assert not_ready and not_ready[0]["severity"] == "critical", alarms
            assert not_ready[0]["detail"]["contact_phone"] == phones["UDN02"]
            kinds = [e["kind"] for e in events if e["kind"] in ("readiness", "briefing")]
            assert kinds[0] == "readiness"
            sub.close()

            # the calendar list shows it with a Buddhist Era date
            day = datetime.fromtimestamp(t0, BKK).date()
            status, listed = await hub.api("GET", f"/api/v1/occurrences?from={day}&to={day}")
            assert status == 200
            mine = next(o for o in listed if o["id"] == oid)
            assert str(day.year + 543) in mine["date_th"] and mine["time_th"].endswith("น.")
            assert mine["state"] == "ended"
    finally:
        await hub.stop()


@pytest.mark.slow
async def test_extend_moves_the_end(tmp_path: Path) -> None:
    hub = TestHub(tmp_path / "hub", schedule_readiness_lead_s=0.6, schedule_reminder_lead_s=0.3)
    await hub.start()
    try:
        async with agents(hub, ["UDN05"], tmp_path) as probes:
            body, t0 = soon(1.5, districts=["UDN05"], duration_min=0.05)  # 3 s
            status, series = await hub.api("POST", "/api/v1/series", body)
            assert status == 201
            oid = series["occurrences"][0]["id"]
            await wait_for(lambda: probes["UDN05"].times("join"), timeout=10)
            status, _ = await hub.api("POST", f"/api/v1/occurrences/{oid}/extend", {"minutes": 0.05})  # +3 s
            assert status == 200
            await wait_for(lambda: probes["UDN05"].times("leave"), timeout=10)
            assert probes["UDN05"].times("leave")[0] - t0 > 5.5  # 3 s + 3 s, not 3 s
            status, bad = await hub.api("POST", f"/api/v1/occurrences/{oid}/extend", {"minutes": 0})
            assert status == 400 and bad["field"] == "minutes"
    finally:
        await hub.stop()


def _count(app_hub: TestHub, action: str, target: str) -> int:
    assert app_hub.app is not None
    with app_hub.app[ENGINE].connect() as c:
        return int(c.execute(sa.text("select count(*) from audit_events where action=:a and target=:t"),
                             {"a": action, "t": target}).scalar_one())


@pytest.mark.slow
async def test_hub_down_at_t0_back_inside_grace_opens_exactly_once(tmp_path: Path) -> None:
    hub = TestHub(tmp_path / "hub", schedule_misfire_grace_s=30, schedule_readiness_lead_s=0.5,
                  schedule_reminder_lead_s=0.3)
    await hub.start()
    async with agents(hub, ["UDN06", "UDN07"], tmp_path) as probes:
        body, t0 = soon(2.0, districts=["UDN06", "UDN07"], duration_min=0.1)  # 6 s
        status, series = await hub.api("POST", "/api/v1/series", body)
        assert status == 201
        oid = series["occurrences"][0]["id"]
        await hub.stop()  # down before T0
        await asyncio.sleep(max(0.0, t0 + 1.0 - time.time()))  # T0 passes while down
        assert all(not p.times("join") for p in probes.values())
        await hub.start()  # back inside the grace
        try:
            await wait_for(lambda: all(p.times("join") for p in probes.values()), timeout=10)
            assert hub.briefings.step_log and [s for _o, s, _t in hub.briefings.step_log] == ["open"]
            await asyncio.sleep(0.5)
            for p in probes.values():
                assert len(p.times("join")) == 1  # opened once, one join per agent
                assert "selftest" not in p.names() and "reminder" not in p.names()  # stale steps skipped
            # restart again while it is open, the districts in the call (their media is up):
            # not opened a second time; reconnected agents rejoin
            for _ in range(200):
                _s, board = await hub.api("GET", f"/api/v1/occurrences/{oid}/readiness")
                if all(r["presence"] == "joined" for r in board["districts"]):
                    break
                await asyncio.sleep(0.1)
            assert all(r["presence"] == "joined" for r in board["districts"]), board
            await hub.stop()
            await hub.start()
            await wait_for(lambda: all(p.times("leave") for p in probes.values()), timeout=15)
            assert [s for _o, s, _t in hub.briefings.step_log] == ["end"]
            for p in probes.values():
                assert p.names() == ["join", "join", "leave"]
            assert _count(hub, "briefing.open", f"occurrence:{oid}") == 1
            status, got = await hub.api("GET", f"/api/v1/series/{series['id']}")
            assert got["occurrences"][0]["state"] == "ended"
        finally:
            await hub.stop()


@pytest.mark.slow
async def test_hub_down_past_the_grace_marks_missed(tmp_path: Path) -> None:
    hub = TestHub(tmp_path / "hub", schedule_misfire_grace_s=1, schedule_readiness_lead_s=0.5,
                  schedule_reminder_lead_s=0.3)
    await hub.start()
    async with agents(hub, ["UDN08"], tmp_path) as probes:
        body, t0 = soon(1.5, districts=["UDN08"], duration_min=0.05)
        status, series = await hub.api("POST", "/api/v1/series", body)
        assert status == 201
        oid = series["occurrences"][0]["id"]
        await hub.stop()
        await asyncio.sleep(max(0.0, t0 + 2.5 - time.time()))  # beyond T0 + grace
        await hub.start()
        try:
            assert hub.app is not None
            status, board = await hub.api("GET", f"/api/v1/occurrences/{oid}/readiness")
            assert board["occurrence"]["state"] == "missed"
            await asyncio.sleep(3.0)  # past the planned end too: nothing runs late
            assert "join" not in probes["UDN08"].names() and "leave" not in probes["UDN08"].names()
            assert _count(hub, "briefing.missed", f"occurrence:{oid}") == 1
            assert [j.id for j in hub.briefings.scheduler.get_jobs() if j.id.startswith(f"occ-{oid}-")] == []
            status, listed = await hub.api("GET", "/api/v1/occurrences")
            assert next(o for o in listed if o["id"] == oid)["state"] == "missed"
        finally:
            await hub.stop()


@pytest.mark.slow
async def test_restarting_never_duplicates_jobs(tmp_path: Path) -> None:
    hub = TestHub(tmp_path / "hub")
    await hub.start()
    try:
        year = datetime.now(BKK).year + 1
        body = {
            "title": "ประชุมประจำสัปดาห์", "organizer_email": "po@udon.example", "districts": ["UDN09"],
            "start_date": f"{year}-02-01", "end_date": f"{year}-02-03", "start_time": "09:00",
            "duration_min": 30, "recurrence": "daily",
        }
        status, series = await hub.api("POST", "/api/v1/series", body)
        assert status == 201
        # The timeline lives in the database job store; the monthly report job in memory beside it.
        ids = sorted(j.id for j in hub.briefings.scheduler.get_jobs(jobstore="default"))
        assert len(ids) == 12 and len(set(ids)) == 12  # 3 occurrences × 4 steps
        occ_ids = [o["id"] for o in series["occurrences"]]
        assert f"occ-{occ_ids[0]}-open" in ids
        for _ in range(2):
            await hub.stop()
            await hub.start()
            assert sorted(j.id for j in hub.briefings.scheduler.get_jobs(jobstore="default")) == ids
        # a change replaces the jobs under the same ids
        status, _ = await hub.api("PATCH", f"/api/v1/series/{series['id']}", {"start_time": "10:00"})
        assert status == 200
        jobs = hub.briefings.scheduler.get_jobs(jobstore="default")
        assert sorted(j.id for j in jobs) == ids
        job = hub.briefings.scheduler.get_job(f"occ-{occ_ids[0]}-open")
        assert job.next_run_time.astimezone(BKK).hour == 10
        assert job.misfire_grace_time == hub.settings.schedule_misfire_grace_s and job.coalesce
        assert job.args == (occ_ids[0], "open")
        assert hub.app is not None
        with hub.app[ENGINE].connect() as c:
            assert c.execute(sa.text("select count(*) from schedule_jobs")).scalar_one() == 12
        # skipping one occurrence removes its four jobs
        status, _ = await hub.api("POST", f"/api/v1/series/{series['id']}/occurrences/{year}-02-02/skip")
        assert status == 200
        assert len(hub.briefings.scheduler.get_jobs(jobstore="default")) == 8
    finally:
        await hub.stop()


@pytest.mark.slow
async def test_racing_triggers_change_the_state_once(tmp_path: Path) -> None:
    hub = TestHub(tmp_path / "hub")
    await hub.start()
    try:
        body, _t0 = soon(600, districts=["UDN10"])
        status, series = await hub.api("POST", "/api/v1/series", body)
        assert status == 201
        oid = series["occurrences"][0]["id"]
        for event in ("open", "miss"):
            results = await asyncio.gather(
                *(asyncio.to_thread(hub.briefings._transition, oid, event) for _ in range(8))
            )
            winners = [r for r in results if r is not None]
            assert len(winners) == (1 if event == "open" else 0)  # after open, miss is illegal
        assert winners == [] and results.count(None) == 8
        status, got = await hub.api("GET", f"/api/v1/occurrences/{oid}/readiness")
        assert got["occurrence"]["state"] == "open"
    finally:
        await hub.stop()


@pytest.mark.slow
async def test_series_created_late_still_checks_readiness_before_the_reminder(tmp_path: Path) -> None:
    # Readiness and reminder are both already due when the series is saved: they fire together
    # and must still run in order (neither is lost to the other's state change).
    hub = TestHub(tmp_path / "hub", schedule_readiness_lead_s=20, schedule_reminder_lead_s=10)
    await hub.start()
    try:
        async with agents(hub, ["UDN11", "UDN12"], tmp_path) as probes:
            body, _t0 = soon(3.0, districts=["UDN11", "UDN12"], duration_min=0.02)
            status, series = await hub.api("POST", "/api/v1/series", body)
            assert status == 201
            oid = series["occurrences"][0]["id"]
            await wait_for(lambda: all(p.times("leave") for p in probes.values()), timeout=12)
            for p in probes.values():
                assert p.names() == ["selftest", "reminder", "join", "leave"]
            status, board = await hub.api("GET", f"/api/v1/occurrences/{oid}/readiness")
            assert all(r["ready"] is True and r["reminded_at"] for r in board["districts"])
            assert [s for o, s, _t in hub.briefings.step_log if o == oid] == ["readiness", "reminder", "open", "end"]
    finally:
        await hub.stop()


@pytest.mark.slow
async def test_two_hubs_in_one_process_each_run_their_own_jobs(tmp_path: Path) -> None:
    # The scheduler keeps no module state: each app's jobs reach that app (before, every
    # job went to the newest hub of the process, which looked the occurrence up in its own database).
    hubs = [TestHub(tmp_path / f"hub{i}", schedule_readiness_lead_s=0.6, schedule_reminder_lead_s=0.3,
                    media_enabled=False) for i in range(2)]
    for hub in hubs:
        await hub.start()
    try:
        for hub, code in zip(hubs, ["UDN13", "UDN14"], strict=True):
            body, _t0 = soon(1.5, districts=[code], duration_min=0.02)
            status, series = await hub.api("POST", "/api/v1/series", body)
            assert status == 201, series
        await wait_for(lambda: all([s for _o, s, _t in h.briefings.step_log][-1:] == ["end"] for h in hubs),
                       timeout=15)
        for hub in hubs:
            assert [s for _o, s, _t in hub.briefings.step_log] == ["readiness", "reminder", "open", "end"]
            status, listed = await hub.api("GET", "/api/v1/occurrences")
            assert [o["state"] for o in listed] == ["ended"]
    finally:
        for hub in hubs:
            await hub.stop()
