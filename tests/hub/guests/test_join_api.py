"""The join path over real HTTP against a real hub: links, window, passcode and its limits,
the lobby and the chair's actions, removal, closing to guests, districts by browser, and
every bad input answered with a clear JSON 4xx in Thai and English."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hub import audit
from tests.conftest import HubHandle

from .conftest import Api, link_parts, series_at

NOW = datetime.now(UTC)
SOON = NOW + timedelta(minutes=20)  # the link opens 30 min before: open now, no T−10 step yet


def bilingual(body: Any, code: str) -> None:
    assert isinstance(body, dict) and body["code"] == code, body
    assert body["th"] and body["en"] and body["th"] != body["en"]
    assert any("\u0e00" <= ch <= "\u0e7f" for ch in body["th"])  # Thai script


async def _join(b: Any, occ: int, token: str, **over: Any) -> tuple[int, Any]:
    body = {"k": token, "passcode": "", "name": "สมหญิง ใจดี", "organisation": "สำนักงานป้องกันและบรรเทาสาธารณภัยจังหวัด"}
    body.update(over)
    return await b.api("POST", f"/api/v1/join/{occ}", body)


async def test_guest_lobby_admit_hand_remove_cannot_rejoin(hub: HubHandle, chair: Api, browsers: Any) -> None:
    occ, series, links = await chair.series(series_at(SOON))
    (guest_link,) = links["guest"].values()
    assert guest_link.startswith(f"{hub.url}/briefings/{occ}?k=")
    b = browsers()
    status, page = await b.page(guest_link)
    assert status == 200 and 'id="join-form"' in page and "รหัสผ่าน" in page and "Passcode" in page
    _occ, token, _ = link_parts(guest_link)

    status, body = await _join(b, occ, token, passcode="000000" if series["passcode"] != "000000" else "111111")
    assert status == 403
    bilingual(body, "wrong_passcode")
    status, body = await _join(b, occ, token, passcode=series["passcode"])
    assert status == 200 and body["status"] == "waiting", body
    guest_id = body["id"]

    # the chair sees the guest in the lobby with name and organisation
    status, lobby = await chair("GET", f"/api/v1/occurrences/{occ}/guests")
    assert status == 200
    (g,) = lobby["guests"]
    assert (g["name"], g["organisation"], g["status"]) == ("สมหญิง ใจดี", "สำนักงานป้องกันและบรรเทาสาธารณภัยจังหวัด", "waiting")

    # the page's long poll wakes when the chair admits
    status, me = await b.api("GET", f"/api/v1/join/{occ}/me")
    assert status == 200
    waiter = asyncio.create_task(b.api("GET", f"/api/v1/join/{occ}/me?wait=5&v={me['version']}"))
    await asyncio.sleep(0.3)
    assert not waiter.done()
    status, admitted = await chair("POST", f"/api/v1/occurrences/{occ}/guests/{guest_id}/admit")
    assert status == 200 and admitted["status"] == "admitted"
    status, woke = await asyncio.wait_for(waiter, 3)
    assert status == 200 and woke["status"] == "admitted" and woke["intervals"][0]["end"] is None

    status, hand = await b.api("POST", f"/api/v1/join/{occ}/me/hand", {"raised": True})
    assert status == 200 and hand["hand_raised"] is True
    status, mic = await chair("POST", f"/api/v1/occurrences/{occ}/guests/{guest_id}/allow-mic")
    assert status == 200 and mic["may_unmute"] is True

    status, gone = await chair("POST", f"/api/v1/occurrences/{occ}/guests/{guest_id}/remove")
    assert status == 200 and gone["status"] == "removed"
    assert gone["intervals"][0]["end"] and gone["intervals"][0]["reason"] == "removed"
    # same browser, same link: refused, as a page and as the API
    status, page = await b.page(guest_link)
    assert status == 403 and "ถูกเชิญออก" in page and "cannot rejoin" in page
    status, body = await _join(b, occ, token)
    assert status == 403
    bilingual(body, "removed")
    # another browser with the same link and the same name: still refused
    other = browsers()
    await other.page(guest_link)
    status, body = await _join(other, occ, token, passcode=series["passcode"], name="สมหญิง  ใจดี")
    assert status == 403
    bilingual(body, "removed")
    # the chair cannot admit a removed guest
    status, body = await chair("POST", f"/api/v1/occurrences/{occ}/guests/{guest_id}/admit")
    assert status == 409 and body["code"] == "illegal"

    events = await asyncio.to_thread(audit.recent, hub.engine, action_prefix="guests.")
    actions = {e.action for e in events}
    assert {"guests.passcode.refused", "guests.passcode.ok", "guests.join", "guests.admit", "guests.remove"} <= actions


async def test_passcode_limits_per_address_and_per_briefing(hub: HubHandle, chair: Api, browsers: Any) -> None:
    occ, series, links = await chair.series(series_at(SOON))
    (link,) = links["guest"].values()
    _o, token, _ = link_parts(link)
    wrong = "999999" if series["passcode"] != "999999" else "888888"
    a = browsers("127.0.0.1")
    await a.page(link)
    for _ in range(3):  # guests_attempts_per_address = 3
        status, body = await _join(a, occ, token, passcode=wrong)
        assert status == 403 and body["code"] == "wrong_passcode"
    status, body = await _join(a, occ, token, passcode=series["passcode"])  # right, but too late
    assert status == 429 and body["retry_after_s"] > 0
    bilingual(body, "too_many_attempts")
    assert "เครื่องนี้" in body["th"] and "device" in body["en"]

    # other addresses still get in ... until the briefing's own limit (5) is used up
    b = browsers("127.0.0.2")
    await b.page(link)
    status, body = await _join(b, occ, token, passcode=wrong)
    assert status == 403
    c = browsers("127.0.0.3")
    await c.page(link)
    status, body = await _join(c, occ, token, passcode=wrong)
    assert status == 403  # 5 failures now
    d = browsers("127.0.0.4")
    await d.page(link)
    status, body = await _join(d, occ, token, passcode=series["passcode"])
    assert status == 429
    bilingual(body, "too_many_attempts")
    assert "การประชุมนี้" in body["th"]
    events = await asyncio.to_thread(audit.recent, hub.engine, action_prefix="guests.passcode.limited")
    assert len(events) == 2 and {e.ip for e in events} == {"127.0.0.1", "127.0.0.4"}


async def test_before_opening_and_after_closing(hub: HubHandle, chair: Api, browsers: Any) -> None:
    later = NOW + timedelta(days=2, hours=1)
    occ, series, links = await chair.series(series_at(later))
    (link,) = links["guest"].values()
    b = browsers()
    status, page = await b.page(link)
    assert status == 200 and 'data-state="not_open"' in page and 'id="join-form"' not in page
    local = (later - timedelta(minutes=30)).astimezone(ZoneInfo("Asia/Bangkok"))
    assert f"เปิดให้เข้าร่วมเวลา {local:%H:%M} น." in page and str(local.year + 543) in page
    assert f"Opens at {local:%H:%M}" in page
    _o, token, _ = link_parts(link)
    status, body = await _join(b, occ, token, passcode=series["passcode"])
    assert status == 403
    bilingual(body, "not_open")

    past = NOW - timedelta(hours=3)
    occ2, series2, links2 = await chair.series(series_at(past, districts=["UDN03"]))
    (link2,) = links2["guest"].values()
    status, page = await b.page(link2)
    assert status == 410 and 'data-state="closed"' in page and "ปิดแล้ว" in page
    _o, token2, _ = link_parts(link2)
    status, body = await _join(b, occ2, token2, passcode=series2["passcode"])
    assert status == 410
    bilingual(body, "closed")


async def test_district_link_joins_as_the_district(hub: HubHandle, chair: Api, browsers: Any) -> None:
    occ, series, links = await chair.series(series_at(SOON, districts=["UDN01", "UDN02"]))
    (link,) = links["UDN02"].values()
    assert link.startswith(f"{hub.url}/briefings/{occ}/district/UDN02?k=")
    b = browsers()
    status, page = await b.page(link)
    assert status == 200 and "อำเภอกุดจับ" in page and 'data-kind="district"' in page
    _o, token, code = link_parts(link)
    # the district's token under another district's address is refused
    status, _page = await b.page(link.replace("/district/UDN02", "/district/UDN01"))
    assert status == 404
    status, body = await _join(b, occ, token, district="UDN01", passcode=series["passcode"])
    assert status == 404
    bilingual(body, "bad_link")
    # the guest link cannot pose as a district either
    (guest_link,) = links["guest"].values()
    _o, guest_token, _ = link_parts(guest_link)
    status, body = await _join(b, occ, guest_token, district="UDN02", passcode=series["passcode"])
    assert status == 404

    status, body = await _join(b, occ, token, district=code, passcode=series["passcode"], name="<b>x</b>")
    assert status == 200, body
    assert (body["kind"], body["site_code"], body["name"], body["status"]) == ("district", "UDN02", "อำเภอกุดจับ", "admitted")
    assert body["browser"] is True and body["may_unmute"] is True
    # a second browser with the district link takes over from the first (the notebook set up again)
    b2 = browsers()
    await b2.page(link)
    status, second = await _join(b2, occ, token, district=code, passcode=series["passcode"])
    assert status == 200 and second["status"] == "admitted"
    status, lobby = await chair("GET", f"/api/v1/occurrences/{occ}/guests")
    assert [g["status"] for g in lobby["guests"]] == ["left", "admitted"]
    assert lobby["guests"][0]["intervals"][0]["reason"] == "replaced"
    # removing the district withdraws its link for this briefing
    status, _gone = await chair("POST", f"/api/v1/occurrences/{occ}/guests/{second['id']}/remove")
    assert status == 200
    status, _page = await browsers().page(link)
    assert status == 404
    status, fresh = await chair("GET", f"/api/v1/series/{series['id']}/guest-links")
    assert fresh["UDN02"] != links["UDN02"] and fresh["guest"] == links["guest"]


async def test_closing_to_guests_and_admit_directly(hub: HubHandle, chair: Api, browsers: Any) -> None:
    occ, series, links = await chair.series(series_at(SOON))
    (link,) = links["guest"].values()
    _o, token, _ = link_parts(link)
    waiting = browsers()
    await waiting.page(link)
    status, w = await _join(waiting, occ, token, passcode=series["passcode"])
    assert status == 200 and w["status"] == "waiting"

    status, state = await chair("PUT", f"/api/v1/occurrences/{occ}/guest-access", {"open": False})
    assert status == 200 and state["closed_to_guests"] is True
    assert state["guests"][0]["status"] == "refused"
    late = browsers()
    await late.page(link)
    status, body = await _join(late, occ, token, passcode=series["passcode"], name="ผู้มาใหม่")
    assert status == 403
    bilingual(body, "closed_to_guests")
    # districts are not guests: a district link still works
    (d_link,) = links["UDN01"].values()
    _o, d_token, code = link_parts(d_link)
    district = browsers()
    await district.page(d_link)
    status, body = await _join(district, occ, d_token, district=code, passcode=series["passcode"])
    assert status == 200 and body["status"] == "admitted"

    status, _ = await chair("PUT", f"/api/v1/occurrences/{occ}/guest-access", {"open": True})
    status, policy = await chair("PUT", f"/api/v1/series/{series['id']}/guest-policy", {"admit_directly": True})
    assert status == 200 and policy["admit_directly"] is True
    status, body = await _join(late, occ, token, passcode=series["passcode"], name="ผู้มาใหม่")
    assert status == 200 and body["status"] == "admitted"


async def test_bad_input_is_a_clear_4xx(hub: HubHandle, chair: Api, browsers: Any) -> None:
    occ, series, links = await chair.series(series_at(SOON))
    (link,) = links["guest"].values()
    _o, token, _ = link_parts(link)
    b = browsers()
    await b.page(link)
    for name, org, field in (("<script>alert(1)</script>", "อบจ.", "name"), ("สมชาย", "อบต.<img src=x>", "organisation"),
                             ("", "อบจ.", "name"), ("ก" * 101, "อบจ.", "name")):
        status, body = await _join(b, occ, token, passcode=series["passcode"], name=name, organisation=org)
        assert status == 400 and body["field"] == field, body
        assert body["th"] and body["en"]
    status, body = await _join(b, occ, "not-a-token", passcode=series["passcode"])
    assert status == 404
    bilingual(body, "bad_link")
    for path, expect in (("/api/v1/join/abc", 404), ("/api/v1/join/999999", 404)):
        status, body = await b.api("POST", path, {"k": token})
        assert status == expect and "error" in body, (path, status, body)
    status, body = await b.api("POST", f"/api/v1/join/{occ}", {"passcode": 1})
    assert status == 400 and "error" in body
    status, body = await b.api("GET", f"/api/v1/join/{occ}/me")
    assert status == 401
    bilingual(body, "no_seat")
    status, page = await b.page(f"{hub.url}/briefings/{occ}")
    assert status == 404 and "ลิงก์ไม่ถูกต้อง" in page
    # roles: a viewer cannot admit, nobody anonymous can see the lobby
    status, _ = await chair("POST", f"/api/v1/occurrences/{occ}/guests/1/admit", role="viewer")
    assert status == 403
    status, _ = await chair("GET", f"/api/v1/occurrences/{occ}/guests", role="")
    assert status == 401
    status, body = await chair("POST", f"/api/v1/occurrences/{occ}/guests/12345/admit")
    assert status == 404
    status, body = await chair("POST", f"/api/v1/series/{series['id']}/guest-invitations", {"emails": ["not-an-address"]})
    assert status == 400 and body["field"] == "emails"
