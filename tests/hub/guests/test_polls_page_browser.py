"""The join page's polls in Debian's Chromium (Playwright, system executable, phone with touch):
an admitted guest sees the chair's secret poll appear by itself, votes with a tap, is told the
vote was recorded, and a second vote is refused on the page in Thai and English.
(No media worker: the program is tests/e2e/test_guest_browser.py's.)"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.conftest import ARTIFACTS, free_port
from tests.hub.briefings.harness import MailSink, smtp_server
from tests.hub.ui.conftest import CHROMIUM, CHROMIUM_ARGS

from .conftest import series_at
from .harness import PHONE, ThreadHub
from .harness import tap as _tap

pytestmark = [pytest.mark.browser, pytest.mark.slow]


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


def _conference(hub: ThreadHub, occ: int) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for row in hub.api("GET", "/api/v1/conferences")[1]:
            if row.get("occurrence_id") == occ and row["status"] == "live":
                return int(row["id"])
        time.sleep(0.2)
    raise AssertionError("the briefing's conference did not start at T0")


def test_guest_votes_from_the_join_page(world: tuple[ThreadHub, MailSink]) -> None:
    hub, _sink = world
    status, series = hub.api("POST", "/api/v1/series", series_at(datetime.now(UTC), districts=["UDN01"]))
    assert status == 201, series
    occ = series["occurrences"][0]["id"]
    cid = _conference(hub, occ)
    (link,) = hub.api("GET", f"/api/v1/series/{series['id']}/guest-links")[1]["guest"].values()

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        ctx = browser.new_context(**PHONE, locale="th-TH", timezone_id="Asia/Bangkok")
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(link)
        page.locator("#passcode").fill(series["passcode"])
        page.locator("#name").fill("สมหญิง ใจดี")
        page.locator("#organisation").fill("แขวงทางหลวงอุดรธานี")
        _tap(page, "#join")
        expect(page.locator("#lobby")).to_be_visible()
        (guest,) = hub.api("GET", f"/api/v1/occurrences/{occ}/guests")[1]["guests"]
        assert hub.api("POST", f"/api/v1/occurrences/{occ}/guests/{guest['id']}/admit")[0] == 200
        expect(page.locator("#in-briefing")).to_be_visible(timeout=10000)
        expect(page.locator("#polls")).to_be_hidden()

        status, poll = hub.api("POST", f"/api/v1/conferences/{cid}/polls",
                               {"question": "เห็นชอบให้ปิดถนนช่วงสงกรานต์หรือไม่", "options": ["เห็นชอบ", "ไม่เห็นชอบ"],
                                "ballot": "secret"})
        assert status == 201, poll
        card = page.locator(f"fieldset.poll[data-poll='{poll['id']}']")
        expect(card).to_be_visible(timeout=10000)  # the page's long poll brought it
        expect(card.locator("legend")).to_have_text("เห็นชอบให้ปิดถนนช่วงสงกรานต์หรือไม่")
        expect(card).to_contain_text("ลงมติลับ")
        _tap(page, f"fieldset.poll[data-poll='{poll['id']}'] button[data-option='1']")
        expect(page.locator("#poll-status")).to_have_attribute("data-state", "voted")
        expect(page.locator("#poll-status")).to_contain_text("บันทึกการลงมติแล้ว")
        expect(card).to_have_attribute("data-voted", "true")
        expect(card.locator("button[data-option='0']")).to_be_disabled()
        page.screenshot(path=str(ARTIFACTS / "guest-poll-phone.png"), full_page=True)

        # A second vote (a stale button, another tab): the hub refuses, the page says why.
        page.evaluate("() => document.querySelectorAll('fieldset.poll button').forEach((b) => { b.disabled = false; })")
        _tap(page, f"fieldset.poll[data-poll='{poll['id']}'] button[data-option='0']")
        status_el = page.locator("#poll-status")
        expect(status_el).to_have_attribute("data-code", "double_vote")
        expect(status_el).to_contain_text("ลงมติไปแล้ว")
        expect(status_el).to_contain_text("already voted")

        view = hub.api("GET", f"/api/v1/conferences/{cid}/polls/{poll['id']}")[1]
        assert view["voters"] == [f"guest:web-{guest['id']}"] and view["counts"] is None  # secret, still open
        hub.api("POST", f"/api/v1/conferences/{cid}/polls/{poll['id']}/close")
        expect(page.locator("#polls")).to_be_hidden(timeout=10000)  # a closed poll leaves the page
        assert errors == [], errors
        ctx.close()
        browser.close()
