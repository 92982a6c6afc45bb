"""The recordings API over a real hub: list, download (Range), legal hold, delete, retention clean-up, bad input.

Media is off here (no worker): the recordings are rows and files as a finished
recording leaves them, so these tests are about the room's rules, not the encoder.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
import sqlalchemy as sa

from hub.briefings.store import BriefingSeries
from hub.db import session_scope
from hub.evidence.keys import EVIDENCE
from hub.models import utcnow
from hub.recording import store
from hub.recording.keys import RECORDINGS
from hub.settings import Settings
from tests.conftest import HubHandle
from tests.hub.recording.reckit import api


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var", port=0, host="127.0.0.1", media_enabled=False,
                    recording_min_free_mb=0, recording_retention_days=30)


def finished(hub: HubHandle, cid: int, stem: str, age_days: float, body: bytes = b"\0\0\0\x18ftypisom" * 300) -> int:
    folder = hub.app[RECORDINGS].dir
    (folder / f"{stem}.mp4").write_bytes(body)
    (folder / f"{stem}.mp3").write_bytes(body[:1000])
    ended = utcnow() - timedelta(days=age_days)
    row = store.insert(hub.engine, store.Recording(
        conference_id=cid, title="ทดสอบ", stem=stem, state="finished", started_at=ended - timedelta(hours=1),
        ended_at=ended, duration_s=3600.0, mp4_sha256=hashlib.sha256(body).hexdigest(), mp4_bytes=len(body),
        mp3_sha256=hashlib.sha256(body[:1000]).hexdigest(), mp3_bytes=1000))
    assert row.id is not None
    return row.id


def actions(hub: HubHandle, recording_id: int) -> list[tuple[str, bool]]:
    with hub.engine.connect() as c:
        return [(r[0], bool(r[1])) for r in c.execute(sa.text(
            "SELECT action, ok FROM audit_events WHERE target = :t ORDER BY id"), {"t": f"recording:{recording_id}"})]


async def test_hold_delete_retention_and_bad_input(hub: HubHandle, http: aiohttp.ClientSession) -> None:
    conf = await api(http, hub, "POST", "/api/v1/conferences", {"sites": ["UDN01"], "layout": "1+N", "title": "t"},
                     expect=201)
    cid = conf["id"]
    # no media worker: recording is refused with the reason, in Thai and English
    err = await api(http, hub, "POST", f"/api/v1/conferences/{cid}/recording/start", expect=409)
    assert err["code"] == "no_media" and "ระบบภาพและเสียง" in err["error"] and "media" in err["error"]
    err = await api(http, hub, "POST", f"/api/v1/conferences/{cid}/recording/stop", expect=409)
    assert err["code"] == "not_recording"

    old = await asyncio.to_thread(finished, hub, cid, "เก่า_2025-01-01_083000", 40)
    held = await asyncio.to_thread(finished, hub, cid, "เก็บไว้_2025-01-02_083000", 40)
    fresh = await asyncio.to_thread(finished, hub, cid, "ใหม่_2026-12-01_083000", 1)

    # download: whole file, a Range, unknown ids, traversal, an unknown kind
    body = (hub.app[RECORDINGS].dir / "เก่า_2025-01-01_083000.mp4").read_bytes()
    async with http.get(f"{hub.url}/api/v1/recordings/{old}/mp4", headers=hub.auth("viewer")) as resp:
        assert resp.status == 200 and await resp.read() == body
        assert "filename*=UTF-8''" in resp.headers["Content-Disposition"]
    async with http.get(f"{hub.url}/api/v1/recordings/{old}/mp4",
                        headers={**hub.auth("viewer"), "Range": "bytes=-10"}) as resp:
        assert resp.status == 206 and await resp.read() == body[-10:]
    for path in (f"/api/v1/recordings/{fresh + 1000}/mp4", "/api/v1/recordings/..%2F..%2Fsalaklang.db/mp4",
                 f"/api/v1/recordings/{old}/..%2F..%2Fsalaklang.db", f"/api/v1/recordings/{old}/txt",
                 "/api/v1/recordings/%E0%B9%91/mp4", f"/api/v1/recordings/{fresh + 1000}"):
        async with http.get(hub.url + path, headers=hub.auth("viewer")) as resp:
            data = await resp.json()
            assert resp.status == 404 and data["error"], (path, resp.status, data)

    # legal hold: admins only, audited
    await api(http, hub, "PUT", f"/api/v1/recordings/{held}/hold", {"hold": True}, expect=403, role="operator")
    await api(http, hub, "PUT", f"/api/v1/recordings/{held}/hold", {"hold": "yes"}, expect=400, role="admin")
    got = await api(http, hub, "PUT", f"/api/v1/recordings/{held}/hold", {"hold": True}, role="admin")
    assert got["legal_hold"] and got["hold_by"] == "operator:admin"
    err = await api(http, hub, "DELETE", f"/api/v1/recordings/{held}", expect=409, role="admin")
    assert err["code"] == "held" and "legal hold" in err["error"]
    await api(http, hub, "DELETE", f"/api/v1/recordings/{fresh}", expect=403, role="operator")

    # clean-up: past the 30 days and not held → deleted; held or fresh → kept
    removed = await asyncio.to_thread(hub.app[RECORDINGS].cleanup)
    assert removed == [old]
    folder = hub.app[RECORDINGS].dir
    assert not (folder / "เก่า_2025-01-01_083000.mp4").exists()
    assert (folder / "เก็บไว้_2025-01-02_083000.mp4").exists() and (folder / "ใหม่_2026-12-01_083000.mp4").exists()
    err = await api(http, hub, "GET", f"/api/v1/recordings/{old}/mp4", expect=404, role="viewer")
    assert err["code"] == "gone"
    listing = await api(http, hub, "GET", f"/api/v1/recordings?conference_id={cid}", role="viewer")
    assert {r["id"]: r["deleted"] for r in listing["recordings"]} == {old: True, held: False, fresh: False}

    # lifting the hold lets an admin delete it
    await api(http, hub, "PUT", f"/api/v1/recordings/{held}/hold", {"hold": False}, role="admin")
    await api(http, hub, "DELETE", f"/api/v1/recordings/{held}", role="admin")
    assert actions(hub, held) == [("recording.hold", True), ("recording.delete", False),
                                  ("recording.hold", True), ("recording.delete", True)]
    assert actions(hub, old) == [("recording.expire", True)]

    # the evidence package lists the briefing's recordings with SHA-256 and duration
    doc = await asyncio.to_thread(hub.app[EVIDENCE].document, cid)
    names = {r["name"]: r for r in doc["recordings"]}
    assert names["ใหม่_2026-12-01_083000.mp4"]["sha256"] == hashlib.sha256(body).hexdigest()
    assert names["ใหม่_2026-12-01_083000.mp4"]["duration_s"] == 3600.0
    assert names["เก่า_2025-01-01_083000.mp4"]["deleted"] is True


async def test_series_recording_setting(hub: HubHandle, http: aiohttp.ClientSession) -> None:
    def add() -> int:
        with session_scope(hub.engine) as s:
            row = BriefingSeries(uid="rec-test@salaklang", title="ประชุมประจำสัปดาห์", spec={}, passcode="1234")
            s.add(row)
            s.flush()
            assert row.id is not None
            return row.id

    sid = await asyncio.to_thread(add)
    assert (await api(http, hub, "GET", f"/api/v1/series/{sid}/recording", role="viewer"))["record"] is True
    await api(http, hub, "PUT", f"/api/v1/series/{sid}/recording", {"record": False}, expect=403, role="viewer")
    assert (await api(http, hub, "PUT", f"/api/v1/series/{sid}/recording", {"record": False}))["record"] is False
    assert (await api(http, hub, "GET", f"/api/v1/series/{sid}/recording", role="viewer"))["record"] is False
    await api(http, hub, "PUT", f"/api/v1/series/{sid + 99}/recording", {"record": True}, expect=404)


async def test_recordings_page_lists_in_thai_and_links_from_the_conference_page(
        hub: HubHandle, http: aiohttp.ClientSession) -> None:
    conf = await api(http, hub, "POST", "/api/v1/conferences", {"sites": ["UDN01"], "layout": "1+N", "title": "t"},
                     expect=201)
    rid = await asyncio.to_thread(finished, hub, conf["id"], "หน้าเพจ_2026-12-01_083000", 1)
    async with http.get(hub.url + "/recordings", headers=hub.auth("admin")) as resp:
        page = await resp.text()
        assert resp.status == 200, page[:300]
    assert "บันทึกภาพและเสียงการประชุม" in page and "หน้าเพจ_2026-12-01_083000" in page
    assert f'href="/api/v1/recordings/{rid}/mp4"' in page and "2569" in page  # Buddhist Era on the Thai page
    assert f'data-url="/api/v1/conferences/{conf["id"]}/recording/start"' in page
    async with http.get(hub.url + "/conference", headers=hub.auth("viewer")) as resp:
        assert 'href="/recordings"' in await resp.text()
