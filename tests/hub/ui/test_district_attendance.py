"""Attendance intervals on the district page and the conference page (issue 11), over a real hub.

A real hub with its media worker, a real agent with its aiortc endpoint: it joins a
conference, the clerk leaves (the tray's ClerkRequest on the real socket) and joins
again. The district page (server-rendered) lists both intervals with their reasons in
Thai; the conference page (its script, in Chromium) shows the same from the API.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import async_playwright, expect

from hub.settings import Settings
from site_agent import protocol as p
from site_agent.client import AgentClient
from site_agent.media.endpoint import install
from tests.conftest import PASSWORD, HubHandle
from tests.hub.media.mediakit import COLOURS, TONES
from tests.hub.ui.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS
from tests.hub.web.test_auth import login

pytestmark = [pytest.mark.slow, pytest.mark.browser]

SITE = "UDN05"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var", port=0, host="127.0.0.1",
                    media_width=320, media_height=180, media_fps=15, media_kbps=400)


@contextlib.asynccontextmanager
async def media_agent(hub: HubHandle, code: str) -> AsyncIterator[AgentClient]:
    """A real district agent with its real aiortc endpoint (camera and microphone synthesised)."""
    client = AgentClient(await hub.enrol_agent(code), backoff_base=0.1, backoff_cap=1.0)
    endpoint = install(client, colour=COLOURS[code], tone_hz=TONES[code])
    task = asyncio.create_task(client.run())
    try:
        await client.wait_connected(timeout=10)
        yield client
    finally:
        await endpoint.close()
        client.stop()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(task, 5)


async def conference(http: aiohttp.ClientSession, hub: HubHandle, cid: int) -> dict[str, Any]:
    async with http.get(f"{hub.url}/api/v1/conferences/{cid}", headers=hub.auth("viewer")) as resp:
        assert resp.status == 200
        data: dict[str, Any] = await resp.json()
        return data


async def until_state(http: aiohttp.ClientSession, hub: HubHandle, cid: int, state: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        data = await conference(http, hub, cid)
        got = {p_["site"]: p_["media_state"]["state"] for p_ in data["participants"]}
        if got.get(SITE) == state:
            return data
        assert time.monotonic() < deadline, f"{SITE} not {state}: {got}"
        await asyncio.sleep(0.2)


async def test_intervals_on_the_district_and_conference_pages(hub: HubHandle, http: aiohttp.ClientSession) -> None:
    async with media_agent(hub, SITE) as agent:
        async with http.post(f"{hub.url}/api/v1/conferences", json={"sites": [SITE], "layout": "2x2"},
                             headers=hub.auth("operator")) as resp:
            assert resp.status == 201, await resp.text()
            cid = (await resp.json())["id"]
        await until_state(http, hub, cid, "in_program", 30)
        await agent.send(p.ClerkRequest(action="leave", sent_at=time.time()))
        await until_state(http, hub, cid, "out", 10)
        await agent.send(p.ClerkRequest(action="join", sent_at=time.time()))
        data = await until_state(http, hub, cid, "in_program", 30)
        assert [(a["opened_reason"], a["closed_reason"]) for a in data["attendance"]] == [("joined", "left"),
                                                                                          ("joined", None)]

        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
            await login(browser, hub, "viewer", PASSWORD)
            async with browser.get(f"{hub.url}/districts/{SITE}") as resp:
                assert resp.status == 200
                html = await resp.text()
        table = html.split('id="interval-table"', 1)[1].split("</table>", 1)[0]
        rows = re.findall(r'<tr data-conference="(\d+)" data-opened="(\w+)" data-closed="(\w*)">(.*?)</tr>', table, re.S)
        # Newest first: the open interval, then the one the clerk closed; reasons in Thai.
        assert [(int(c), o, cl) for c, o, cl, _ in rows] == [(cid, "joined", ""), (cid, "joined", "left")], rows
        assert "ยังอยู่ในการประชุม" in rows[0][3] and "เข้าร่วม" in rows[0][3]
        assert "ออกโดยเจ้าหน้าที่" in rows[1][3] and re.search(r"\d+ ธ\.ค\. 25\d\d", rows[1][3])  # Buddhist Era

        async with async_playwright() as pw:
            chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = await chromium.new_page(viewport={"width": 1400, "height": 1000})
            await page.goto(hub.url + "/login?next=/conference")
            await page.fill("#username", "viewer")
            await page.fill("#password", PASSWORD)
            await page.click("form button[type=submit]")
            await page.wait_for_url("**/conference")
            rows_js = page.locator("#conf-intervals tbody tr")
            await expect(rows_js).to_have_count(2, timeout=15000)
            await expect(rows_js.nth(0)).to_have_attribute("data-closed", "left")
            await expect(rows_js.nth(0)).to_contain_text("ออกโดยเจ้าหน้าที่")
            await expect(rows_js.nth(1)).to_contain_text("ยังอยู่ในการประชุม")
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "conference-intervals-th.png"), full_page=True)
            await chromium.close()
