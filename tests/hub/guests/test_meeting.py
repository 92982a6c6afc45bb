"""The join page meets the identity and polls rooms (issues 15 and 16), over real HTTP against a
real hub: a guest's name and organisation on the identity record and in the evidence package,
a confidential (ลับ) briefing refusing guests, and guests voting in open and secret polls through
the page's own routes, with the polls room's refusals in Thai and English."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from hub import audit
from tests.conftest import HubHandle

from .conftest import Api, link_parts, series_at
from .test_join_api import _join, bilingual


async def _conference(chair: Api, occ: int) -> int:
    for _ in range(150):
        status, rows = await chair("GET", "/api/v1/conferences")
        assert status == 200
        for row in rows:
            if row.get("occurrence_id") == occ and row["status"] == "live":
                return int(row["id"])
        await asyncio.sleep(0.2)
    raise AssertionError("the briefing's conference did not start at T0")


async def _briefing(chair: Api) -> tuple[int, int, str, str]:
    """A briefing live now: (occurrence, conference, guest link, passcode)."""
    status, series = await chair("POST", "/api/v1/series", series_at(datetime.now(UTC), districts=["UDN01"]))
    assert status == 201, series
    occ = series["occurrences"][0]["id"]
    cid = await _conference(chair, occ)
    status, links = await chair("GET", f"/api/v1/series/{series['id']}/guest-links")
    (link,) = links["guest"].values()
    return occ, cid, link, series["passcode"]


def series_id(lobby: dict[str, Any]) -> int:
    return int(lobby["series_id"])


async def _admitted(chair: Api, b: Any, occ: int, link: str, passcode: str, **over: Any) -> dict[str, Any]:
    status, page = await b.page(link)  # the page: its session cookie and CSRF token
    assert status == 200 and 'id="polls"' in page
    status, guest = await _join(b, occ, link_parts(link)[1], passcode=passcode, **over)
    assert status == 200, guest
    status, guest = await chair("POST", f"/api/v1/occurrences/{occ}/guests/{guest['id']}/admit")
    assert status == 200 and guest["status"] == "admitted", guest
    return guest


async def test_guest_identity_recorded_and_in_the_evidence_package(hub: HubHandle, chair: Api, browsers: Any) -> None:
    occ, cid, link, passcode = await _briefing(chair)
    b = browsers()
    guest = await _admitted(chair, b, occ, link, passcode)
    key = f"guest:web-{guest['id']}"
    # Rejoining with the same name is not a second identity.
    status, _ = await _join(b, occ, link_parts(link)[1])
    assert status == 200

    status, rows = await chair("GET", f"/api/v1/conferences/{cid}/identities")
    assert status == 200, rows
    rows = rows if isinstance(rows, list) else rows["identities"]
    mine = [r for r in rows if r["participant"] == key]
    assert len(mine) == 1, rows
    assert (mine[0]["name"], mine[0]["organisation"]) == ("สมหญิง ใจดี", "สำนักงานป้องกันและบรรเทาสาธารณภัยจังหวัด")
    with hub.engine.connect() as c:
        at, via = c.execute(sa.text("SELECT confirmed_at, via FROM identities WHERE participant = :p"), {"p": key}).one()
    assert at is not None and via == "guest_page"

    async with chair.http.get(f"{hub.url}/api/v1/conferences/{cid}/evidence", headers=hub.auth("operator")) as resp:
        assert resp.status == 200
        data = await resp.read()
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        doc = json.loads(z.read("evidence.json"))
    (entry,) = [p for p in doc["participants"] if p["participant"] == key]
    assert (entry["kind"], entry["name_th"]) == ("guest", "สมหญิง ใจดี"), entry
    (ident,) = entry["identities"]
    assert (ident["name"], ident["organisation"], ident["via"]) == (
        "สมหญิง ใจดี", "สำนักงานป้องกันและบรรเทาสาธารณภัยจังหวัด", "guest_page")
    assert datetime.fromisoformat(ident["confirmed_at"]).tzinfo is not None  # stored with its time


async def test_confidential_briefing_refuses_guests(hub: HubHandle, chair: Api, browsers: Any) -> None:
    occ, cid, link, passcode = await _briefing(chair)
    status, body = await chair("PUT", f"/api/v1/conferences/{cid}/confidential", {"confidential": True})
    assert status == 200, body
    b = browsers()
    status, _page = await b.page(link)
    assert status == 200
    status, body = await _join(b, occ, link_parts(link)[1], passcode=passcode)
    assert status == 403
    bilingual(body, "confidential_no_guests")
    assert "การประชุมลับ" in body["th"] and "confidential" in body["en"]
    status, lobby = await chair("GET", f"/api/v1/occurrences/{occ}/guests")
    assert status == 200 and lobby["guests"] == []  # no seat was taken
    rows = await asyncio.to_thread(audit.recent, hub.engine, action_prefix="guests.join.refused")
    assert any(r.target == f"occurrence:{occ}" and not r.ok and r.detail["reason"] == "confidential_no_guests" for r in rows)

    # Made confidential after a guest was in: its media is refused at the offer.
    status, _ = await chair("PUT", f"/api/v1/conferences/{cid}/confidential", {"confidential": False})
    assert status == 200
    await _admitted(chair, b, occ, link, passcode)
    await chair("PUT", f"/api/v1/conferences/{cid}/confidential", {"confidential": True})
    status, body = await b.api("POST", f"/api/v1/join/{occ}/me/offer", {"type": "offer", "sdp": OFFER})
    assert status == 403, body
    bilingual(body, "confidential_no_guests")

    # A district's browser link cannot give the one-time code: refused, told why.
    status, links = await chair("GET", f"/api/v1/series/{series_id(lobby)}/guest-links")
    (district_link,) = links["UDN01"].values()
    d = browsers()
    await d.page(district_link)
    _o, dtoken, code = link_parts(district_link)
    status, body = await d.api("POST", f"/api/v1/join/{occ}", {"k": dtoken, "district": code, "passcode": passcode})
    assert status == 403, body
    bilingual(body, "second_factor_required")


async def test_guests_vote_in_open_and_secret_polls(hub: HubHandle, chair: Api, browsers: Any) -> None:
    occ, cid, link, passcode = await _briefing(chair)
    one, two = browsers(), browsers()
    g1 = await _admitted(chair, one, occ, link, passcode)
    g2 = await _admitted(chair, two, occ, link, passcode, name="สมชาย รักดี", organisation="แขวงทางหลวงอุดรธานี")
    base = f"/api/v1/conferences/{cid}/polls"
    status, open_poll = await chair("POST", base, {"question": "เห็นชอบแผนหรือไม่", "options": ["เห็นชอบ", "ไม่เห็นชอบ"]})
    assert status == 201, open_poll
    status, secret = await chair("POST", base, {"question": "ลงมติลับ", "options": ["ก", "ข"], "ballot": "secret"})
    assert status == 201, secret

    # The page's view lists the open polls.
    status, me = await one.api("GET", f"/api/v1/join/{occ}/me")
    assert status == 200
    assert [(p["id"], p["secret"], p["voted"]) for p in me["polls"]] == [
        (open_poll["id"], False, False), (secret["id"], True, False)]
    assert me["polls"][0]["options"] == ["เห็นชอบ", "ไม่เห็นชอบ"]

    # A long poll wakes when a poll changes.
    waiter = asyncio.create_task(one.api("GET", f"/api/v1/join/{occ}/me?wait=5&v={me['version']}"))
    await asyncio.sleep(0.3)
    assert not waiter.done()
    status, me = await one.api("POST", f"/api/v1/join/{occ}/me/vote", {"poll": open_poll["id"], "option": 0})
    assert status == 200, me
    status, woke = await asyncio.wait_for(waiter, 3)
    assert status == 200 and [p["voted"] for p in woke["polls"]] == [True, False]

    status, body = await one.api("POST", f"/api/v1/join/{occ}/me/vote", {"poll": open_poll["id"], "option": 1})
    assert status == 409
    bilingual(body, "double_vote")
    status, body = await one.api("POST", f"/api/v1/join/{occ}/me/vote", {"poll": secret["id"], "option": 1})
    assert status == 200, body
    status, body = await two.api("POST", f"/api/v1/join/{occ}/me/vote", {"poll": secret["id"], "option": 0})
    assert status == 200, body
    status, body = await two.api("POST", f"/api/v1/join/{occ}/me/vote", {"poll": secret["id"], "option": 0})
    assert status == 409
    bilingual(body, "double_vote")
    status, body = await two.api("POST", f"/api/v1/join/{occ}/me/vote", {"poll": 999999, "option": 0})
    assert status == 404
    bilingual(body, "unknown_poll")
    status, body = await two.api("POST", f"/api/v1/join/{occ}/me/vote", {"poll": open_poll["id"], "option": 7})
    assert status == 400
    bilingual(body, "bad_option")

    status, _ = await chair("POST", f"{base}/{secret['id']}/close")
    assert status == 200
    status, body = await two.api("POST", f"/api/v1/join/{occ}/me/vote", {"poll": open_poll["id"], "option": 1})
    assert status == 200, body
    status, _ = await chair("POST", f"{base}/{open_poll['id']}/close")
    status, body = await one.api("POST", f"/api/v1/join/{occ}/me/vote", {"poll": open_poll["id"], "option": 1})
    assert status == 409
    bilingual(body, "poll_closed")
    status, me = await one.api("GET", f"/api/v1/join/{occ}/me")
    assert me["polls"] == []  # closed polls leave the page

    # One vote per identified person: a guest is the person it named at the join.
    status, per_person = await chair("POST", base, {"question": "รายบุคคล", "options": ["ก", "ข"], "unit": "person"})
    assert status == 201, per_person
    status, body = await one.api("POST", f"/api/v1/join/{occ}/me/vote", {"poll": per_person["id"], "option": 1})
    assert status == 200, body
    status, view = await chair("GET", f"{base}/{per_person['id']}")
    assert view["voters"] == [f"guest:web-{g1['id']}/สมหญิง ใจดี"], view

    # The polls room counted them: the open ballot names its voters' choices, the secret one only the tally.
    k1, k2 = f"guest:web-{g1['id']}", f"guest:web-{g2['id']}"
    status, view = await chair("GET", f"{base}/{open_poll['id']}")
    assert status == 200, view
    text = json.dumps(view, ensure_ascii=False)
    assert k1 in text and k2 in text
    status, view = await chair("GET", f"{base}/{secret['id']}")
    assert status == 200, view
    assert view["counts"] == [1, 1] and view["open"] is False, view
    with hub.engine.connect() as c:
        details = [r[0] if isinstance(r[0], dict) else json.loads(r[0]) for r in c.execute(sa.text(
            "SELECT detail FROM audit_events WHERE action = 'poll.voted'")).all()]
    secret_rows = [d for d in details if d["poll"] == secret["id"]]
    assert sorted(d["voter"] for d in secret_rows) == sorted([k1, k2])
    assert not any("option" in d for d in secret_rows)  # that each voted, never how
    assert [d["option"] for d in details if d["poll"] == open_poll["id"]] == [0, 1]


# A minimal offer the guests room's SDP check accepts (audio and video, H.264 and Opus).
OFFER = "\r\n".join([
    "v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=group:BUNDLE 0 1",
    "m=video 9 UDP/TLS/RTP/SAVPF 102", "c=IN IP4 0.0.0.0", "a=mid:0", "a=recvonly", "a=rtcp-mux",
    "a=ice-ufrag:abcd", "a=ice-pwd:abcdefghijklmnopqrstuvwx",
    "a=fingerprint:sha-256 " + ":".join(["AB"] * 32), "a=setup:actpass",
    "a=rtpmap:102 H264/90000", "a=fmtp:102 packetization-mode=1;profile-level-id=42e01f",
    "m=audio 9 UDP/TLS/RTP/SAVPF 111", "c=IN IP4 0.0.0.0", "a=mid:1", "a=recvonly", "a=rtcp-mux",
    "a=ice-ufrag:abcd", "a=ice-pwd:abcdefghijklmnopqrstuvwx",
    "a=fingerprint:sha-256 " + ":".join(["AB"] * 32), "a=setup:actpass",
    "a=rtpmap:111 opus/48000/2", "",
])
