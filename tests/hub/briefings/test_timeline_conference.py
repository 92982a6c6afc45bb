"""The timeline with the real conference manager: at T0 the scheduler starts a conference
(media worker, small program picture); the manager joins the districts' real media endpoints;
the board learns who joined; at T+duration the scheduler ends the conference."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from .harness import TestHub, agents, wait_for
from .test_timeline import soon

BKK = ZoneInfo("Asia/Bangkok")


@pytest.mark.slow
async def test_conference_opens_agents_join_and_it_ends(tmp_path: Path) -> None:
    hub = TestHub(tmp_path / "hub", schedule_readiness_lead_s=2.5,
                  schedule_reminder_lead_s=1.5, schedule_selftest_timeout_s=2)
    await hub.start()
    try:
        async with agents(hub, ["UDN01", "UDN02"], tmp_path) as probes:
            body, t0 = soon(4.0, districts=["UDN01", "UDN02", "UDN03"], duration_min=0.1, layout="2x2")
            status, series = await hub.api("POST", "/api/v1/series", body)
            assert status == 201, series
            oid = series["occurrences"][0]["id"]

            # joined: the media endpoint connected (its status) or the manager said so
            async def joined() -> bool:
                _s, board = await hub.api("GET", f"/api/v1/occurrences/{oid}/readiness")
                return all(r["presence"] == "joined" for r in board["districts"] if r["code"] != "UDN03")

            for _ in range(150):
                if await joined():
                    break
                await asyncio.sleep(0.1)
            status, board = await hub.api("GET", f"/api/v1/occurrences/{oid}/readiness")
            assert board["occurrence"]["state"] == "open"
            conference_id = board["occurrence"]["conference_id"]
            assert isinstance(conference_id, int)
            rows = {r["code"]: r for r in board["districts"]}
            assert rows["UDN01"]["presence"] == rows["UDN02"]["presence"] == "joined", rows
            assert rows["UDN03"]["ready"] is False and rows["UDN03"]["presence"] in ("waiting", "late")

            await wait_for(lambda: all(p.times("leave") for p in probes.values()), timeout=15)
            for code, p in probes.items():
                names = p.names()
                assert names[:2] == ["selftest", "reminder"], (code, names)
                assert names.index("join") > 1 and names[-1] == "leave", (code, names)
                join = p.times("join")[0]
                assert 0 <= join - t0 < 2.5, (code, join - t0)  # includes starting the media worker
                assert all(a.get("conference_id") == conference_id for n, _t, a in p.got if n == "join")
                assert abs(p.times("leave")[-1] - (t0 + 6.0)) < 1.5, code
            status, board = await hub.api("GET", f"/api/v1/occurrences/{oid}/readiness")
            assert board["occurrence"]["state"] == "ended"
            day = datetime.fromtimestamp(t0, BKK).date()
            status, listed = await hub.api("GET", f"/api/v1/occurrences?from={day}&to={day}")
            assert next(o for o in listed if o["id"] == oid)["conference_id"] == conference_id
    finally:
        await hub.stop()

