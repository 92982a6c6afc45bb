"""The conference page's meeting panel in Chromium: the chair starts a roll call, the page shows who
has and has not answered, and the polls with their tallies (a secret ballot's only once closed)."""

from __future__ import annotations

import aiohttp
from playwright.async_api import async_playwright, expect

from tests.conftest import PASSWORD, HubHandle
from tests.hub.identity.briefing import Api, site_token, start_briefing
from tests.hub.ui.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS


async def test_roll_call_on_the_conference_page(hub: HubHandle, http: aiohttp.ClientSession) -> None:
    api = Api(http, hub)
    cid = await start_briefing(api, ["UDN01", "UDN02", "UDN03"])
    token = await site_token(hub, "UDN02")
    _, secret = await api.call("POST", f"/api/v1/conferences/{cid}/polls", body={
        "question": "ลงคะแนนลับ: อำเภอต้นแบบ", "options": ["เมือง", "กุดจับ"], "ballot": "secret"}, expect=201)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = await (await browser.new_context(viewport={"width": 1400, "height": 1000}, locale="th-TH",
                                                timezone_id="Asia/Bangkok")).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        await page.goto(hub.url + "/conference")
        await page.wait_for_url("**/login**")
        await page.locator("#username").fill("operator")
        await page.locator("#password").fill(PASSWORD)
        await page.locator("form button[type=submit]").click()
        await page.wait_for_url("**/conference**")
        panel = page.locator("#meeting-panel")
        await expect(panel).to_be_visible(timeout=10_000)
        await expect(page.locator("#polls-table tr[data-poll]")).to_contain_text("0 ลงมติแล้ว")
        await page.locator("#roll-call-seconds").fill("120")
        await page.locator("#roll-call-start").click()
        await expect(page.locator("#roll-call-table tr.missing")).to_have_count(3, timeout=10_000)
        _, calls = await api.call("GET", f"/api/v1/conferences/{cid}/roll-calls", expect=200)
        # UDN02's clerk answers (its site token, as its agent does); the page moves it to "answered".
        await api.call("POST", f"/api/v1/conferences/{cid}/roll-calls/{calls[-1]['id']}/answer", token, {},
                       expect=200)
        await api.call("POST", f"/api/v1/conferences/{cid}/polls/{secret['id']}/votes", token, {"option": 1},
                       expect=201)
        await expect(page.locator("#roll-call-table tr.answered")).to_have_count(1, timeout=10_000)
        assert await page.locator("#roll-call-table tr.answered").get_attribute("data-site") == "UDN02"
        await expect(page.locator("#roll-call-table tr.missing")).to_have_count(2)
        poll_row = page.locator("#polls-table tr[data-poll]")
        await expect(poll_row).to_contain_text("1 ลงมติแล้ว")  # a secret tally is not shown while open
        await api.call("POST", f"/api/v1/conferences/{cid}/polls/{secret['id']}/close", expect=200)
        await expect(poll_row).to_contain_text("กุดจับ: 1", timeout=10_000)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "conference-roll-call.png"), full_page=True)
        assert errors == []
        await browser.close()
