"""The district page's SmokePing-style chart drawn from real link reports (real hub, real agent)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

import pytest
from playwright.async_api import async_playwright, expect

from site_agent import protocol as p
from tests.conftest import PASSWORD, HubHandle
from tests.hub.ui.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS

pytestmark = [pytest.mark.browser, pytest.mark.slow]


async def test_link_history_chart_from_reports(hub: HubHandle, run_agent: Callable[..., Any]) -> None:
    config = await hub.enrol_agent("UDN17")
    rng = random.Random(17)
    now = time.time()
    async with run_agent(config) as agent:
        # Six hours of 5-minute steps: ~40 ms median with spread, a lossy patch in the middle.
        for i in range(72):
            at = now - 6 * 3600 + i * 300
            lossy = 30 <= i < 36
            median = 40 + rng.uniform(-5, 5) + (60 if lossy else 0)
            await agent.send(p.LinkReport(
                source="probe", step_s=300, probes=20, rtt_ms_median=median, rtt_ms_min=median - 8,
                rtt_ms_max=median + rng.uniform(10, 30), jitter_ms=3.0, loss_pct=10.0 if lossy else 0.0, tmax_ms=1000,
                measured_at=at,
            ))
        await hub.wait_for(lambda: True)
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = await browser.new_page(viewport={"width": 1400, "height": 1000})
            await page.goto(hub.url + "/login?next=/districts/UDN17")
            await page.fill("#username", "viewer")
            await page.fill("#password", PASSWORD)
            await page.click("form button[type=submit]")
            await page.wait_for_url("**/districts/UDN17")
            medians = page.locator("#chart line.median")
            await expect(medians.first).to_be_attached(timeout=10000)
            assert await medians.count() >= 60
            # Lossy buckets are marked twice: a loss bar and a different median colour.
            assert await page.locator("#chart rect.lossbar").count() >= 5
            assert await page.locator("#chart line.median.loss2").count() >= 5
            assert await page.locator("#chart rect.smoke").count() >= 60
            # Live figures show the last report in words and numbers.
            await expect(page.locator("#live-link")).to_contain_text("ms")
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "district-chart-th.png"), full_page=True)
            await browser.close()
