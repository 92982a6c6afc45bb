"""A guest and a browser district in Debian's Chromium (Playwright, system executable, fake
camera and microphone), against a real hub with its real media worker.

The guest, on a phone with touch, opens the link of a real invitation sent to a real SMTP
server (aiosmtpd), is refused a wrong passcode, joins with the right one, is admitted from the
lobby, receives the program (decoded frames counted with requestVideoFrameCallback, a live
audio track), raises a hand, is granted the floor by the chair over the API (the layout puts the
guest's camera in the large tile of the program the guest itself decodes), presents a photo
(refused before the floor, shown on the content stage once it holds it), is muted by the chair
and is removed.
A district without its agent PC joins with its district link: the board shows the district,
marked "browser", and attendance counts the district with an interval opened "browser".
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import Page, expect, sync_playwright

from tests.conftest import ARTIFACTS, free_port
from tests.hub.briefings.harness import MailSink, smtp_server
from tests.hub.guests.conftest import series_at
from tests.hub.guests.harness import FAKE_MEDIA, PHONE, ThreadHub, link_from_mail, tap, wait
from tests.hub.ui.conftest import CHROMIUM, CHROMIUM_ARGS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

GUEST = "partner@agency.example"
DISTRICTS = ["UDN01", "UDN02"]

# The large tile of 1+N is (0,0)-(960,540) of 1280×720: its mean colour, read from the decoded
# program in the page (a canvas the size of the video).
LARGE_TILE_MEAN = """() => {
  const v = document.getElementById('program');
  const c = document.createElement('canvas');
  c.width = v.videoWidth; c.height = v.videoHeight;
  const g = c.getContext('2d');
  g.drawImage(v, 0, 0);
  const d = g.getImageData(0, 0, Math.round(c.width * 0.75), Math.round(c.height * 0.75)).data;
  const sum = [0, 0, 0];
  for (let i = 0; i < d.length; i += 4) { sum[0] += d[i]; sum[1] += d[i + 1]; sum[2] += d[i + 2]; }
  const n = d.length / 4;
  return sum.map((s) => s / n);
}"""


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[ThreadHub, MailSink]]:
    smtp_port = free_port()
    with smtp_server(smtp_port) as sink:
        hub = ThreadHub(tmp_path, smtp_port, media_enabled=True, media_width=320, media_height=180,
                        media_fps=15, media_kbps=400)
        hub.start()
        try:
            yield hub, sink
        finally:
            hub.stop()


def _summary(hub: ThreadHub, cid: int) -> dict[str, Any]:
    status, body = hub.api("GET", f"/api/v1/conferences/{cid}")
    assert status == 200, body
    assert isinstance(body, dict)
    return body


def _conference_of(hub: ThreadHub, occ: int) -> int | None:
    status, rows = hub.api("GET", "/api/v1/conferences")
    assert status == 200, rows
    for row in rows:
        if row.get("occurrence_id") == occ and row["status"] == "live":
            return int(row["id"])
    return None


def _participant(summary: dict[str, Any], site: str) -> dict[str, Any] | None:
    return next((p for p in summary["participants"] if p["site"] == site), None)


def _program_playing(page: Page, frames: int = 10) -> None:
    page.wait_for_function(f"() => window.salaklangProgram.frames >= {frames}", timeout=30000)
    assert page.evaluate("() => window.salaklangProgram.audio") == "live"
    assert page.evaluate("() => document.getElementById('program').srcObject.getAudioTracks()[0].readyState") == "live"


def _distance(a: list[float], b: list[float]) -> float:
    return float(sum(abs(x - y) for x, y in zip(a, b, strict=True)))


def test_guest_and_browser_district_in_the_program(world: tuple[ThreadHub, MailSink], tmp_path: Path) -> None:
    hub, sink = world
    # The briefing starts this minute: the scheduler opens it (T0 passed by under a minute, inside
    # the misfire grace) and the conference manager starts its conference with the districts.
    status, series = hub.api("POST", "/api/v1/series", {**series_at(datetime.now(UTC), districts=DISTRICTS,
                                                                    minutes=30), "layout": "1+N"})
    assert status == 201, series
    occ = series["occurrences"][0]["id"]
    wait(lambda: _conference_of(hub, occ) is not None, 30, "the briefing's conference")
    cid = _conference_of(hub, occ)
    assert cid is not None
    status, queued = hub.api("POST", f"/api/v1/series/{series['id']}/guest-invitations", {"emails": [GUEST]})
    assert status == 202 and queued["queued"] == 1
    wait(lambda: len(sink.messages) == 1, 15, "the invitation")
    link = link_from_mail(sink.messages[0])
    assert f"/briefings/{occ}?k=" in link

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + FAKE_MEDIA)
        ctx = browser.new_context(**PHONE, locale="th-TH", timezone_id="Asia/Bangkok")
        ctx.grant_permissions(["camera", "microphone"], origin=hub.url)
        page = ctx.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text)
                if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(link)
        expect(page.locator("h1")).to_contain_text("สงกรานต์")

        tap(page, "#test-devices")
        expect(page.locator("#device-status")).to_contain_text("ใช้งานได้")
        page.wait_for_function("() => Number(document.querySelector('.meter').getAttribute('aria-valuenow')) > 0")

        wrong = "000000" if series["passcode"] != "000000" else "111111"
        page.locator("#passcode").fill(wrong)
        page.locator("#name").fill("สมหญิง ใจดี")
        page.locator("#organisation").fill("สำนักงานป้องกันและบรรเทาสาธารณภัยจังหวัดอุดรธานี")
        tap(page, "#join")
        expect(page.locator("#join-error")).to_contain_text("รหัสผ่านไม่ถูกต้อง")
        page.locator("#passcode").fill(series["passcode"])
        tap(page, "#join")
        expect(page.locator("#lobby")).to_be_visible()

        status, lobby = hub.api("GET", f"/api/v1/occurrences/{occ}/guests")
        (guest,) = lobby["guests"]
        key = f"guest-{guest['id']}"
        status, _ = hub.api("POST", f"/api/v1/occurrences/{occ}/guests/{guest['id']}/admit")
        assert status == 200
        expect(page.locator("#in-briefing")).to_be_visible(timeout=10000)

        # The program, decoded in the phone's browser, with its sound.
        _program_playing(page)
        # The join's steps, as the page marks them: the peer and its offer were made at the Join
        # tap, while the guest waited in the lobby; once admitted, only the hub's answer, the
        # connection and the first keyframe were left.
        ph = page.evaluate("() => window.salaklangProgram.phases")
        assert ph["submit"] <= ph["offer"] <= ph["gathered"], ph
        assert ph["joined"] <= ph["admitted"] <= ph["answer"] <= ph["connected"] <= ph["first_frame"], ph
        assert ph["offer"] < ph["admitted"], ph
        summary = _summary(hub, cid)
        me = _participant(summary, key)
        assert me is not None and me["kind"] == "guest"
        assert (me["name_th"], me["organisation"]) == ("สมหญิง ใจดี", "สำนักงานป้องกันและบรรเทาสาธารณภัยจังหวัดอุดรธานี")
        assert key not in [t["site"] for t in summary["tiles"]]  # a guest is not in the layout until given the floor
        wait(lambda: bool((_participant(_summary(hub, cid), key) or {}).get("in_program")), 20,
             "the guest's camera decoded at the hub")
        page.screenshot(path=str(ARTIFACTS / "guest-program-phone.png"), full_page=True)

        # The chair's conference page lists the guest by name and organisation, with a remove action.
        board = browser.new_context(viewport={"width": 1280, "height": 900})
        board_page = board.new_page()
        board_page.goto(hub.url + "/login")
        board_page.locator("input[name=username]").fill("chair")
        board_page.locator("input[name=password]").fill("chair-password-1")
        board_page.locator("button[type=submit]").click()
        board_page.goto(hub.url + "/conference")
        row = board_page.locator(f'#participants tr[data-site="{key}"]')
        expect(row).to_contain_text("สมหญิง ใจดี (สำนักงานป้องกันและบรรเทาสาธารณภัยจังหวัดอุดรธานี)", timeout=10000)
        expect(row.locator('td[data-kind="guest"]')).to_contain_text("guest")
        expect(row.get_by_role("button", name=re.compile("เชิญออก"))).to_be_visible()
        before = page.evaluate(LARGE_TILE_MEAN)

        # Presenting a photo from the gallery before the chair allows it: refused, the briefing goes on.
        photo = tmp_path / "ภาพถนน.png"
        Image.new("RGB", (320, 240), (200, 30, 30)).save(photo)
        page.locator("#present-file").set_input_files(str(photo))
        expect(page.locator("#present-status")).to_have_attribute("data-state", "refused", timeout=10000)
        expect(page.locator("#present-status")).to_contain_text("ยังไม่อนุญาตให้นำเสนอ")

        # Raise a hand: a floor request of the guest, granted by the chair over the API.
        tap(page, "#hand")
        expect(page.locator("#floor-status")).to_have_attribute("data-floor", "queued", timeout=10000)
        (request,) = [r for r in _summary(hub, cid)["floor"]["requests"] if r["site"] == key]
        status, summary = hub.api("POST", f"/api/v1/conferences/{cid}/floor/{request['id']}/grant")
        assert status == 200, summary
        assert summary["floor"]["holder"] == key
        assert [t["site"] for t in summary["tiles"] if t["role"] == "large"] == [key]
        expect(page.locator("#floor-status")).to_have_attribute("data-floor", "granted", timeout=10000)
        expect(page.locator("#floor-status")).to_contain_text("ได้รับสิทธิ์พูด")
        # The floor opens the guest's microphone in the mix, and the page sends it.
        expect(page.locator("#mute")).to_have_attribute("aria-pressed", "false", timeout=10000)
        assert page.evaluate("() => document.getElementById('preview').srcObject.getAudioTracks()[0].enabled") is True
        # The program the guest receives changed: its own camera fills the large tile now.
        page.wait_for_function(f"() => {{ const a = ({LARGE_TILE_MEAN})(); const b = {before};"
                               " return Math.abs(a[0]-b[0]) + Math.abs(a[1]-b[1]) + Math.abs(a[2]-b[2]) > 30; }",
                               timeout=15000)
        page.screenshot(path=str(ARTIFACTS / "guest-floor-phone.png"), full_page=True)

        # Holding the floor, the guest presents the photo: converted by the content room, on screen.
        page.locator("#present-file").set_input_files(str(photo))
        expect(page.locator("#present-status")).to_have_attribute("data-state", "sent", timeout=10000)

        def shown() -> dict[str, Any] | None:
            status, stage = hub.api("GET", f"/api/v1/conferences/{cid}/content/stage")
            assert status == 200, stage
            showing: dict[str, Any] | None = stage["showing"]
            return showing

        wait(lambda: shown() is not None, 30, "the guest's photo on the content stage")
        item = shown()
        assert item is not None and item["category"] == "photo"
        status, detail = hub.api("GET", f"/api/v1/content/{item['item_id']}")
        assert status == 200 and detail["name"] == "ภาพถนน.png", detail

        # The chair mutes the guest over the conference API: the page follows.
        status, _ = hub.api("POST", f"/api/v1/conferences/{cid}/sites/{key}/mute")
        assert status == 200
        expect(page.locator("#mute")).to_have_attribute("aria-pressed", "true", timeout=10000)

        # Removed: the page says so, the guest leaves the conference, the link is refused.
        status, _ = hub.api("POST", f"/api/v1/occurrences/{occ}/guests/{guest['id']}/remove")
        assert status == 200
        expect(page.locator("#ended")).to_have_attribute("data-state", "removed", timeout=10000)
        wait(lambda: _participant(_summary(hub, cid), key) is None, 10, "the guest out of the conference")
        assert _summary(hub, cid)["floor"]["holder"] is None
        page.goto(link)
        expect(page.locator("[data-testid=refusal]")).to_contain_text("ถูกเชิญออก")

        # A district without its agent PC joins with its district link: it is the district.
        status, links = hub.api("GET", f"/api/v1/series/{series['id']}/guest-links")
        (district_link,) = links["UDN02"].values()
        ctx2 = browser.new_context(viewport={"width": 1280, "height": 800}, locale="th-TH", timezone_id="Asia/Bangkok")
        ctx2.grant_permissions(["camera", "microphone"], origin=hub.url)
        page2 = ctx2.new_page()
        page2.goto(district_link)
        page2.locator("#passcode").fill(series["passcode"])
        page2.locator("#join").click()
        expect(page2.locator("#in-briefing")).to_be_visible(timeout=10000)
        _program_playing(page2)
        wait(lambda: bool((_participant(_summary(hub, cid), "UDN02") or {}).get("in_program")), 20,
             "the district's browser camera in the program")
        district = _participant(_summary(hub, cid), "UDN02")
        assert district is not None and district["kind"] == "browser" and district["online"]
        attendance = [a for a in _summary(hub, cid)["attendance"] if a["site"] == "UDN02"]
        assert [a["opened_reason"] for a in attendance] == ["browser"], attendance

        # The board (the control room's page) shows the district, marked "browser".
        board_page.goto(hub.url + "/")
        badge = board_page.locator('#site-UDN02 [data-field="browser"]')
        expect(badge).to_be_visible(timeout=10000)
        expect(badge).to_contain_text("เบราว์เซอร์")
        expect(board_page.locator('#site-UDN01 [data-field="browser"]')).to_be_hidden()
        board_page.screenshot(path=str(ARTIFACTS / "board-browser-district.png"), full_page=True)

        # The district leaves: its interval closes, the board mark goes.
        page2.locator("#leave").click()
        wait(lambda: all(a["ended_at"] for a in _summary(hub, cid)["attendance"] if a["site"] == "UDN02"),
             10, "the district's interval closed")
        expect(badge).to_be_hidden(timeout=10000)
        assert errors == [], errors
        board.close()
        ctx2.close()
        ctx.close()
        browser.close()
