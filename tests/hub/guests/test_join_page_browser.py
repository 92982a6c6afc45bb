"""The join page in Debian's Chromium (Playwright, system executable, fake camera and
microphone) as a phone with touch: the link comes from a real invitation sent to a real SMTP
server (aiosmtpd); wrong passcode refused, right one accepted, the lobby, admitted by the chair
over the API, hand raised, removed, and the same link refused afterwards.
(No media worker here: tests/e2e/test_guest_browser.py joins the program.)"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.conftest import ARTIFACTS, free_port
from tests.hub.briefings.harness import MailSink, smtp_server
from tests.hub.ui.conftest import CHROMIUM, CHROMIUM_ARGS

from .conftest import series_at
from .harness import FAKE_MEDIA, PHONE, ThreadHub
from .harness import link_from_mail as _link_from_mail
from .harness import tap as _tap
from .harness import wait as _wait

pytestmark = [pytest.mark.browser, pytest.mark.slow]

GUEST = "partner@agency.example"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[ThreadHub, MailSink]]:
    smtp_port = free_port()
    with smtp_server(smtp_port) as sink:
        hub = ThreadHub(tmp_path, smtp_port)
        hub.start()
        try:
            yield hub, sink
        finally:
            hub.stop()


def test_phone_joins_from_a_real_invitation(world: tuple[ThreadHub, MailSink]) -> None:
    hub, sink = world
    status, series = hub.api("POST", "/api/v1/series", series_at(datetime.now(UTC) + timedelta(minutes=20),
                                                                 districts=["UDN01", "UDN02"]))
    assert status == 201, series
    occ = series["occurrences"][0]["id"]
    status, queued = hub.api("POST", f"/api/v1/series/{series['id']}/guest-invitations", {"emails": [GUEST]})
    assert status == 202 and queued["queued"] == 1
    _wait(lambda: len(sink.messages) == 1)
    link = _link_from_mail(sink.messages[0])
    assert f"/briefings/{occ}?k=" in link

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + FAKE_MEDIA)
        ctx = browser.new_context(**PHONE, locale="th-TH", timezone_id="Asia/Bangkok")
        ctx.grant_permissions(["camera", "microphone"], origin=hub.url)
        page = ctx.new_page()
        errors: list[str] = []
        # Refusals the test provokes (403 wrong passcode, removed) log "Failed to load resource";
        # anything else (a CSP violation, a script error) counts.
        page.on("console", lambda m: errors.append(m.text)
                if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(link)
        expect(page.locator("h1")).to_contain_text("สงกรานต์")
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390  # no sideways scrolling

        # camera and microphone test: a live preview and a moving level meter
        _tap(page, "#test-devices")
        expect(page.locator("#device-status")).to_contain_text("ใช้งานได้")
        page.wait_for_function("() => document.getElementById('preview').videoWidth > 0")
        page.wait_for_function("() => Number(document.querySelector('.meter').getAttribute('aria-valuenow')) > 0")

        wrong = "000000" if series["passcode"] != "000000" else "111111"
        page.locator("#passcode").fill(wrong)
        page.locator("#name").fill("สมหญิง ใจดี")
        page.locator("#organisation").fill("สำนักงานป้องกันและบรรเทาสาธารณภัยจังหวัดอุดรธานี")
        _tap(page, "#join")
        expect(page.locator("#join-error")).to_contain_text("รหัสผ่านไม่ถูกต้อง")
        expect(page.locator("#join-error")).to_contain_text("Wrong passcode")

        page.locator("#passcode").fill(series["passcode"])
        _tap(page, "#join")
        expect(page.locator("#lobby")).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "guest-lobby-phone.png"), full_page=True)

        status, lobby = hub.api("GET", f"/api/v1/occurrences/{occ}/guests")
        (guest,) = lobby["guests"]
        assert guest["name"] == "สมหญิง ใจดี" and guest["status"] == "waiting"
        status, _ = hub.api("POST", f"/api/v1/occurrences/{occ}/guests/{guest['id']}/admit")
        assert status == 200
        expect(page.locator("#in-briefing")).to_be_visible(timeout=10000)
        expect(page.locator("#mute")).to_be_disabled()  # the microphone waits for the chair

        _tap(page, "#hand")
        expect(page.locator("#hand")).to_have_attribute("aria-pressed", "true")
        _wait(lambda: hub.api("GET", f"/api/v1/occurrences/{occ}/guests")[1]["guests"][0]["hand_raised"])
        hub.api("POST", f"/api/v1/occurrences/{occ}/guests/{guest['id']}/allow-mic")
        expect(page.locator("#mute")).to_be_enabled(timeout=10000)
        _tap(page, "#mute")
        expect(page.locator("#mute")).to_have_attribute("aria-pressed", "false")
        assert page.evaluate("() => document.getElementById('preview').srcObject.getAudioTracks()[0].enabled") is True
        page.screenshot(path=str(ARTIFACTS / "guest-in-briefing-phone.png"), full_page=True)

        status, _ = hub.api("POST", f"/api/v1/occurrences/{occ}/guests/{guest['id']}/remove")
        assert status == 200
        expect(page.locator("#ended")).to_have_attribute("data-state", "removed", timeout=10000)
        expect(page.locator("#ended-th")).to_contain_text("ถูกเชิญออก")
        # mic closed again on removal
        assert page.evaluate("() => document.getElementById('preview').srcObject.getAudioTracks()[0].enabled") is False

        page.goto(link)  # the same link, the same phone
        expect(page.locator("[data-testid=refusal]")).to_contain_text("ถูกเชิญออก")
        assert page.locator("#join-form").count() == 0

        # the same phone is not asked for the passcode again in this briefing
        (other_link,) = hub.api("GET", f"/api/v1/series/{series['id']}/guest-links")[1]["UDN01"].values()
        page.goto(other_link)
        assert page.locator("#passcode").count() == 0

        # the district's own link, on the district's own device, names the district and asks
        # only for the passcode
        status, links = hub.api("GET", f"/api/v1/series/{series['id']}/guest-links")
        (district_link,) = links["UDN02"].values()
        ctx2 = browser.new_context(**PHONE, locale="th-TH", timezone_id="Asia/Bangkok")
        page2 = ctx2.new_page()
        page2.goto(district_link)
        expect(page2.locator("[data-testid=district]")).to_contain_text("อำเภอกุดจับ")
        assert page2.locator("#name").count() == 0 and page2.locator("#passcode").count() == 1
        page2.locator("#passcode").fill(series["passcode"])
        _tap(page2, "#join")
        expect(page2.locator("#in-briefing")).to_be_visible()  # a district is invited: no lobby
        page2.screenshot(path=str(ARTIFACTS / "guest-district-phone.png"), full_page=True)
        status, lobby = hub.api("GET", f"/api/v1/occurrences/{occ}/guests")
        district = next(g for g in lobby["guests"] if g["kind"] == "district")
        assert (district["name"], district["site_code"], district["status"]) == ("อำเภอกุดจับ", "UDN02", "admitted")
        assert errors == [], errors
        ctx2.close()
        ctx.close()
        browser.close()


def test_not_open_page_in_a_phone(world: tuple[ThreadHub, MailSink]) -> None:
    hub, _sink = world
    start = datetime.now(UTC) + timedelta(days=3)
    status, series = hub.api("POST", "/api/v1/series", series_at(start, districts=["UDN03"]))
    assert status == 201
    status, links = hub.api("GET", f"/api/v1/series/{series['id']}/guest-links")
    (link,) = links["guest"].values()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        ctx = browser.new_context(**PHONE, locale="th-TH", timezone_id="Asia/Bangkok")
        page = ctx.new_page()
        page.goto(link)
        opens = page.locator("[data-testid=opens]")
        expect(opens).to_contain_text("เปิดให้เข้าร่วมเวลา")
        local = (start - timedelta(minutes=30)).astimezone(ZoneInfo("Asia/Bangkok"))
        expect(opens).to_contain_text(f"{local:%H:%M} น.")
        expect(opens).to_contain_text(str(local.year + 543))
        assert page.locator("#join-form").count() == 0
        ctx.close()
        browser.close()
