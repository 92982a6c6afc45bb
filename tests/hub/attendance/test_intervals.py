"""Attendance intervals: the writer's rules, and a real conference writing them (real hub, agents, media)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from hub.attendance import store
from hub.attendance.model import Closed, FloorClosed
from hub.attendance.store import AttendanceInterval, FloorInterval
from hub.settings import Settings
from tests.conftest import HubHandle
from tests.hub.media.test_conference_live import agents, api

T0 = datetime(2018, 4, 12, 2, 0, tzinfo=UTC)


def test_writer_opens_once_closes_once_and_never_rewrites(engine: sa.Engine) -> None:
    with Session(engine) as s:
        first = store.open_interval(s, 7, 3, "UDN01", T0)
        again = store.open_interval(s, 7, 3, "UDN01", T0 + timedelta(minutes=1))  # a fresh offer, still in
        assert again is first
        assert store.close_interval(s, 7, "UDN01", T0 + timedelta(minutes=10), Closed.LINK_LOST)
        assert not store.close_interval(s, 7, "UDN01", T0 + timedelta(minutes=11), Closed.LEFT)  # nothing open
        store.open_interval(s, 7, 3, "UDN01", T0 + timedelta(minutes=12))  # back: a new interval
        store.apply_conference_events(s, 7, 3, [("floor.granted", "UDN01", "operator:chair")], T0 + timedelta(minutes=13))
        store.apply_conference_events(s, 7, 3, [("floor.revoked", "UDN01", "operator:chair")], T0 + timedelta(minutes=15))
        store.apply_conference_events(s, 7, 3, [("conference.ended", "", "operator:chair")], T0 + timedelta(minutes=30))
        s.commit()
    with Session(engine) as s:
        rows = s.exec(select(AttendanceInterval).order_by(AttendanceInterval.id)).all()  # type: ignore[arg-type]
        floors = s.exec(select(FloorInterval)).all()
    assert [(r.ended_at - r.started_at, r.closed_reason) for r in rows if r.ended_at] == [
        (timedelta(minutes=10), "link_lost"), (timedelta(minutes=18), "ended")]
    assert [(f.ended_at - f.granted_at, f.closed_reason, f.granted_by) for f in floors if f.ended_at] == [
        (timedelta(minutes=2), "revoked", "operator:chair")]


def test_hub_restart_closes_what_was_open(engine: sa.Engine) -> None:
    with Session(engine) as s:
        store.open_interval(s, 9, None, "UDN02", T0)
        store.open_floor(s, 9, None, "UDN02", T0)
        store.open_interval(s, 10, None, "UDN03", T0)
        assert store.close_all_open(s, T0 + timedelta(minutes=5)) == 3
        store.apply_conference_events(s, 9, None, [("conference.site_removed", "UDN02", "chair")], T0)
        s.commit()
    rows = store.intervals_between(engine, T0, T0 + timedelta(hours=1))
    assert {(r.site_code, r.closed_reason) for r in rows} == {("UDN02", "hub_restart"), ("UDN03", "hub_restart")}
    assert [f.closed_reason for f in store.floors_between(engine, T0, T0 + timedelta(hours=1))] == [
        FloorClosed.HUB_RESTART.value]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var", port=0, host="127.0.0.1",
                    media_width=320, media_height=180, media_fps=15, media_kbps=600)


@pytest.mark.slow
async def test_a_real_conference_records_joins_floor_link_loss_and_end(
    hub: HubHandle, run_agent: Callable[..., Any], http: aiohttp.ClientSession,
) -> None:
    def rows() -> tuple[list[AttendanceInterval], list[FloorInterval]]:
        with Session(hub.engine) as s:
            return list(s.exec(select(AttendanceInterval))), list(s.exec(select(FloorInterval)))

    async def until(pred: Callable[[], bool], timeout: float = 30) -> None:
        for _ in range(int(timeout * 10)):
            if pred():
                return
            await asyncio.sleep(0.1)
        raise AssertionError(rows())

    async with agents(hub, run_agent, ["UDN01", "UDN02"]) as ag:
        conf = await api(http, hub, "POST", "/api/v1/conferences", {"sites": ["UDN01", "UDN02"], "layout": "1+N",
                                                                    "title": "ทดสอบการเข้าร่วม"}, expect=201)
        cid = conf["id"]
        await until(lambda: {a.site_code for a in rows()[0]} == {"UDN01", "UDN02"})
        await api(http, hub, "POST", f"/api/v1/conferences/{cid}/floor", {"site": "UDN02"})
        await until(lambda: len(rows()[1]) == 1)
        await api(http, hub, "POST", f"/api/v1/conferences/{cid}/floor/take")
        await until(lambda: rows()[1][0].closed_reason == "revoked")
        # UDN01's PC drops off the network: its control channel closes.
        ag["UDN01"].client.stop()
        await until(lambda: any(a.closed_reason == "link_lost" for a in rows()[0]))
        await api(http, hub, "POST", f"/api/v1/conferences/{cid}/end")
        await until(lambda: all(a.ended_at is not None for a in rows()[0]))
    attendance, floors = rows()
    reasons = {a.site_code: (a.opened_reason, a.closed_reason) for a in attendance}
    assert reasons == {"UDN01": ("joined", "link_lost"), "UDN02": ("joined", "ended")}
    assert all(a.conference_id == cid and a.ended_at and a.ended_at >= a.started_at for a in attendance)
    (floor,) = floors
    assert (floor.site_code, floor.closed_reason) == ("UDN02", "revoked") and floor.ended_at
