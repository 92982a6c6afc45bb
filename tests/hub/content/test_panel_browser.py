"""The content panel in Chromium: the chair lets a district present; the district's upload then
arrives in the library, marked as the district's (its agent's own channel, its site token)."""

from __future__ import annotations

import io
from pathlib import Path

import aiohttp
from PIL import Image
from playwright.async_api import async_playwright, expect

from hub.content.keys import CONTENT
from site_agent.content.service import Presenter, PresentRefused
from tests.conftest import PASSWORD, HubHandle
from tests.hub.ui.conftest import CHROMIUM, CHROMIUM_ARGS

CLERK = "UDN02"


async def test_the_chair_allows_a_district_from_the_panel(
    hub: HubHandle, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    config = await hub.enrol_agent(CLERK)
    await hub.enrol_agent("UDN01")
    async with http.post(f"{hub.url}/api/v1/conferences", headers=hub.auth("operator"),
                         json={"sites": ["UDN01", CLERK], "layout": "1+N", "title": "นำเสนอจากอำเภอ"}) as resp:
        assert resp.status == 201, await resp.text()
        cid = int((await resp.json())["id"])
    photo = tmp_path / "ภาพจุดเกิดเหตุ.png"
    picture = io.BytesIO()
    Image.new("RGB", (320, 180), (200, 40, 40)).save(picture, "PNG")
    photo.write_bytes(picture.getvalue())
    presenter = Presenter(config)
    refused = None
    try:
        await presenter.upload(photo)
    except PresentRefused as exc:
        refused = exc
    assert refused is not None and refused.status == 403

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = await (await browser.new_context(locale="th-TH", timezone_id="Asia/Bangkok")).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        await page.goto(hub.url + "/conference")
        await page.wait_for_url("**/login**")
        await page.locator("#username").fill("operator")
        await page.locator("#password").fill(PASSWORD)
        await page.locator("form button[type=submit]").click()
        await page.wait_for_url("**/conference**")
        await expect(page.locator("#content-panel")).to_be_visible(timeout=10_000)
        await page.locator("#content-allow-site").fill(CLERK)
        await page.locator('#content-allow [data-allow="1"]').click()
        await expect(page.locator("#content-allowed")).to_contain_text(CLERK, timeout=10_000)

        answer = await presenter.upload(photo)  # allowed now
        await page.reload()
        row = page.locator(f'#content-library tr[data-item="{answer.item_id}"]')
        await expect(row).to_contain_text(f"จากอำเภอ {CLERK}", timeout=15_000)

        # The district shares its screen live: the panel names it and shows no page image.
        await hub.app[CONTENT].share_screen(cid, CLERK, actor=f"agent:{CLERK}")
        await expect(page.locator("#content-state")).to_contain_text(f"หน้าจอสดของอำเภอ {CLERK}", timeout=10_000)
        await expect(page.locator("#content-page")).to_be_hidden()
        await hub.app[CONTENT].stop_screen(cid, CLERK, actor=f"agent:{CLERK}")
        await expect(page.locator("#content-state")).to_contain_text("ยังไม่ได้แสดงเนื้อหา", timeout=10_000)

        await page.locator('#content-allow [data-allow="0"]').click()
        await expect(page.locator("#content-allowed")).not_to_contain_text(CLERK, timeout=10_000)
        assert errors == []
        await browser.close()
