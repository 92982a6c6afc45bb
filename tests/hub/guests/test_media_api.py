"""The guest's media path over the API, with the hub's real media worker and a real aiortc peer
as the browser: the offer answered with the send profile, the program decoded, the view the
page polls, and the refusals (microphone not allowed, presenting not allowed or not a photo or
clip, a removed guest's offer), each in Thai and English while the briefing goes on."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import av
import pytest
import sqlalchemy as sa
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from hub.settings import Settings
from tests.conftest import HubHandle

from .conftest import Api, guest_settings, link_parts, series_at
from .test_join_api import _join, bilingual

pytestmark = pytest.mark.slow


@pytest.fixture
def settings(tmp_path: Path, smtp_port: int) -> Settings:
    return guest_settings(tmp_path, smtp_port, media_enabled=True, media_width=320, media_height=180,
                          media_fps=15, media_kbps=300)


async def _conference(chair: Api, occ: int) -> int:
    for _ in range(150):
        status, rows = await chair("GET", "/api/v1/conferences")
        assert status == 200
        for row in rows:
            if row.get("occurrence_id") == occ and row["status"] == "live":
                return int(row["id"])
        await asyncio.sleep(0.2)
    raise AssertionError("the briefing's conference did not start at T0")


async def _upload(b: Any, occ: int, name: str, data: bytes, mime: str) -> tuple[int, Any]:
    form = aiohttp.FormData()
    form.add_field("file", data, filename=name, content_type=mime)
    return await b.api("POST", f"/api/v1/join/{occ}/me/content", data=form)


async def _traffic(hub: HubHandle, cid: int, guest_id: int, closed: bool = True) -> list[tuple[str, bool, bool]]:
    """The guest's traffic-log rows: (address, client is a browser's User-Agent, left); with
    ``closed``, once they are closed (the leave is told after the answer)."""
    for _ in range(50):
        with hub.engine.connect() as c:
            rows = c.execute(sa.text("SELECT source_addr, client, left_at FROM traffic_log "
                                     "WHERE conference_id = :c AND participant = :p"),
                             {"c": cid, "p": f"guest:web-{guest_id}"}).all()
        if rows and (not closed or all(r[2] is not None for r in rows)):
            break
        await asyncio.sleep(0.1)
    return [(r[0], r[1].startswith("browser ") and "aiohttp" in r[1], r[2] is not None) for r in rows]


async def test_guest_media_path_and_its_refusals(hub: HubHandle, chair: Api, browsers: Any) -> None:
    status, series = await chair("POST", "/api/v1/series", series_at(datetime.now(UTC), districts=["UDN01"]))
    assert status == 201, series
    occ = series["occurrences"][0]["id"]
    cid = await _conference(chair, occ)
    status, links = await chair("GET", f"/api/v1/series/{series['id']}/guest-links")
    (link,) = links["guest"].values()
    _o, token, _ = link_parts(link)
    b = browsers()
    await b.page(link)
    status, guest = await _join(b, occ, token, passcode=series["passcode"])
    assert status == 200 and guest["status"] == "waiting"
    await chair("POST", f"/api/v1/occurrences/{occ}/guests/{guest['id']}/admit")
    key = f"guest-{guest['id']}"

    # The microphone waits for the chair, connected or not.
    status, body = await b.api("POST", f"/api/v1/join/{occ}/me/mic", {"open": True})
    assert status == 403
    bilingual(body, "mic_not_allowed")
    # Presenting needs a connected browser first.
    status, body = await _upload(b, occ, "ภาพ.png", b"\x89PNG\r\n\x1a\n" + b"0" * 64, "image/png")
    assert status == 409
    bilingual(body, "not_connected")

    pc = RTCPeerConnection()
    frames: list[av.VideoFrame] = []
    got = asyncio.Event()
    readers: list[asyncio.Task[None]] = []
    peers = [pc]

    @pc.on("track")
    def _track(track: MediaStreamTrack) -> None:
        async def read() -> None:
            frame = await track.recv()
            if isinstance(frame, av.VideoFrame):
                frames.append(frame)
                got.set()

        if track.kind == "video":
            readers.append(asyncio.ensure_future(read()))

    try:
        pc.addTransceiver("video", direction="recvonly")
        pc.addTransceiver("audio", direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        status, answer = await b.api("POST", f"/api/v1/join/{occ}/me/offer",
                                     {"type": "offer", "sdp": pc.localDescription.sdp})
        assert status == 200, answer
        # A guest off the floor is asked for the idle profile, as an agent would be.
        assert answer["send_profile"] == {"width": 320, "height": 180, "fps": 5, "kbps": 80}
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        await asyncio.wait_for(got.wait(), 20)
        assert (frames[0].width, frames[0].height) == (320, 180)  # the program, decoded

        status, me = await b.api("GET", f"/api/v1/join/{occ}/me")
        assert status == 200
        view = me["media"]
        assert (view["conference_id"], view["participant"], view["floor"], view["mic_open"], view["holder"]) == (
            cid, key, "none", False, False)
        status, summary = await chair("GET", f"/api/v1/conferences/{cid}")
        (me_in,) = [p for p in summary["participants"] if p["site"] == key]
        assert (me_in["kind"], me_in["name_th"]) == ("guest", "สมหญิง ใจดี")
        # The evidence traffic log has the browser's join under the guest's identity key: its
        # address and User-Agent (the evidence package pairs it with the guest's identity).
        assert await _traffic(hub, cid, guest["id"], closed=False) == [("127.0.0.1", True, False)]

        # Presenting before the floor or the chair's leave: refused before the file is read.
        status, body = await _upload(b, occ, "ภาพ.png", b"\x89PNG\r\n\x1a\n" + b"0" * 64, "image/png")
        assert status == 403
        bilingual(body, "present_not_allowed")
        status, _ = await chair("POST", f"/api/v1/conferences/{cid}/content/districts/{key}/allow", {"allow": True})
        assert status == 200
        # Allowed, but a document is not what a guest presents.
        status, body = await _upload(b, occ, "รายงาน.pdf", b"%PDF-1.4\n" + b"0" * 64, "application/pdf")
        assert status == 415
        bilingual(body, "present_kind")

        # The chair allows the microphone: the guest opens it, the mix has it.
        await chair("POST", f"/api/v1/occurrences/{occ}/guests/{guest['id']}/allow-mic")
        status, me = await b.api("POST", f"/api/v1/join/{occ}/me/mic", {"open": True})
        assert status == 200 and me["media"]["mic_open"] is True
        status, summary = await chair("GET", f"/api/v1/conferences/{cid}")
        assert [p["mic_open"] for p in summary["participants"] if p["site"] == key] == [True]

        # Removed: out of the conference, and its next offer is refused.
        await chair("POST", f"/api/v1/occurrences/{occ}/guests/{guest['id']}/remove")
        status, summary = await chair("GET", f"/api/v1/conferences/{cid}")
        assert key not in summary["sites"]
        assert await _traffic(hub, cid, guest["id"]) == [("127.0.0.1", True, True)]  # its leave closed the row
        status, body = await b.api("POST", f"/api/v1/join/{occ}/me/offer",
                                   {"type": "offer", "sdp": pc.localDescription.sdp})
        assert status == 409
        bilingual(body, "not_admitted")
        status, summary = await chair("GET", f"/api/v1/conferences/{cid}")
        assert summary["status"] == "live" and summary["media"]["running"]  # the briefing goes on

        # A second guest is in when the briefing ends: its page is told, not left reconnecting.
        b2 = browsers()
        await b2.page(link)
        status, second = await _join(b2, occ, token, passcode=series["passcode"], name="สมชาย ใจกล้า")
        assert status == 200, second
        await chair("POST", f"/api/v1/occurrences/{occ}/guests/{second['id']}/admit")
        pc2 = RTCPeerConnection()
        peers.append(pc2)
        pc2.addTransceiver("video", direction="recvonly")
        pc2.addTransceiver("audio", direction="recvonly")
        await pc2.setLocalDescription(await pc2.createOffer())
        status, answer = await b2.api("POST", f"/api/v1/join/{occ}/me/offer",
                                      {"type": "offer", "sdp": pc2.localDescription.sdp})
        assert status == 200, answer
        status, me2 = await b2.api("GET", f"/api/v1/join/{occ}/me")
        assert me2["media"]["participant"] == f"guest-{second['id']}" and not me2["media"].get("ended")
        status, _ = await chair("POST", f"/api/v1/conferences/{cid}/end")
        assert status == 200
        status, me2 = await b2.api("GET", f"/api/v1/join/{occ}/me?wait=5&v={me2['version']}")
        assert status == 200 and me2["media"]["ended"] is True
        # Its attendance interval closes with the briefing ("ended"), with its name.
        async def second_row() -> dict[str, Any]:
            status, lobby = await chair("GET", f"/api/v1/occurrences/{occ}/guests")
            assert status == 200
            row: dict[str, Any] = next(g for g in lobby["guests"] if g["id"] == second["id"])
            return row

        for _ in range(50):
            row = await second_row()
            if row["status"] == "left":
                break
            await asyncio.sleep(0.1)
        assert row["name"] == "สมชาย ใจกล้า" and row["status"] == "left", row
        assert row["intervals"][-1]["end"] and row["intervals"][-1]["reason"] == "ended", row["intervals"]
        assert await _traffic(hub, cid, second["id"]) == [("127.0.0.1", True, True)]  # closed at the end
        status, body = await b2.api("POST", f"/api/v1/join/{occ}/me/mic", {"open": False})
        assert status == 409  # after the end: a clear answer, never a 500
        bilingual(body, "not_admitted")
    finally:
        for task in readers:
            task.cancel()
        for peer in peers:
            await peer.close()
