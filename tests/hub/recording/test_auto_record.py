"""Scheduled briefings record themselves when their series says so — never a confidential one.

Real hub and media worker, one real agent. The briefing's occurrence is a row of the
schedule, and the conference is opened the way the T0 step opens it (the manager's
``start`` with the occurrence), so the recording room sees a scheduled briefing.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from pathlib import Path

import aiohttp
import pytest
import sqlalchemy as sa

from hub.briefings.store import BriefingOccurrence, BriefingSeries
from hub.conferences.keys import CONFERENCES
from hub.db import session_scope
from hub.models import utcnow
from hub.recording import store
from hub.recording.keys import RECORDINGS
from hub.settings import Settings
from tests.conftest import HubHandle
from tests.hub.media.mediakit import wait_for
from tests.hub.recording.reckit import H, W, api, district

SITE = "UDN05"
pytestmark = pytest.mark.slow


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var", port=0, host="127.0.0.1", media_width=W, media_height=H,
                    media_fps=15, media_kbps=600, recording_min_free_mb=0, recording_check_s=0.3)


def occurrence(hub: HubHandle, title: str, record: bool) -> int:
    now = utcnow()
    with session_scope(hub.engine) as s:
        series = BriefingSeries(uid=f"{title}@test", title=title, spec={}, passcode="1234", record=record)
        s.add(series)
        s.flush()
        assert series.id is not None
        occ = BriefingOccurrence(series_id=series.id, key_date=date(2026, 12, 1), starts_at=now,
                                 ends_at=now + timedelta(hours=1), state="open")
        s.add(occ)
        s.flush()
        assert occ.id is not None
        return occ.id


async def test_series_records_by_itself_and_confidential_keeps_nothing(hub: HubHandle,
                                                                       http: aiohttp.ClientSession) -> None:
    mgr = hub.app[CONFERENCES]
    async with district(hub, SITE):
        occ = await asyncio.to_thread(occurrence, hub, "ประชุมเช้า", True)
        cid = await mgr.start([SITE], "1+N", title="ประชุมเช้า", occurrence_id=occ, actor="system")

        def recs() -> list[store.Recording]:
            return store.listing(hub.engine, cid)

        assert await wait_for(lambda: len(recs()) == 1, 30), "no automatic recording"
        (rec,) = recs()
        assert rec.auto and rec.started_by == "system" and rec.state == "recording" and rec.stem.startswith("ประชุมเช้า_")
        folder = hub.app[RECORDINGS].dir
        assert await wait_for(lambda: (folder / f"{rec.stem}.mp4").exists(), 10)
        await asyncio.sleep(2)

        # marked confidential mid-briefing: the recording stops and nothing of it is kept
        await api(http, hub, "PUT", f"/api/v1/conferences/{cid}/confidential", {"confidential": True})
        assert await wait_for(lambda: recs()[0].state == "discarded", 10), recs()[0]
        assert not (folder / f"{rec.stem}.mp4").exists() and not (folder / f"{rec.stem}.mp3").exists()
        err = await api(http, hub, "POST", f"/api/v1/conferences/{cid}/recording/start", expect=409)
        assert err["code"] == "confidential" and "การประชุมลับ" in err["error"]
        await mgr.end(cid, "system")

        # a series with recording off: its briefing is not recorded
        occ2 = await asyncio.to_thread(occurrence, hub, "ประชุมบ่าย", False)
        cid2 = await mgr.start([SITE], "1+N", title="ประชุมบ่าย", occurrence_id=occ2, actor="system")
        live = mgr.live[cid2]
        assert await wait_for(lambda: live.worker is not None and live.worker.running, 30)
        await asyncio.sleep(2)
        assert store.listing(hub.engine, cid2) == []
        await mgr.end(cid2, "system")
    with hub.engine.connect() as c:
        acts = [r[0] for r in c.execute(sa.text("SELECT action FROM audit_events WHERE target = :t ORDER BY id"),
                                        {"t": f"recording:{rec.id}"})]
    assert acts == ["recording.start", "recording.stop"], acts
