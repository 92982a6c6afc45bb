"""The poll results card in the program, seen where it matters: decoded at a real receiving agent.

A real hub and media worker, two real agents (aiortc): the poll closes, the compositor draws
the card (Thai, Pillow with raqm) over the program, the agent decodes the H.264 program and
finds the card's colours in the card's area; the chair takes it down and the tiles come back.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
from PIL import Image

from hub.media import channel
from hub.media.card import BAR, CARD_BG, card_rect, render_card
from hub.media.compositor import raqm_available
from hub.settings import Settings
from tests.conftest import HubHandle
from tests.hub.identity.briefing import Api, start_briefing
from tests.hub.media.mediakit import wait_for
from tests.hub.media.test_conference_live import agents

W, H = 320, 180
SITES = ["UDN01", "UDN02"]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var", port=0, host="127.0.0.1", media_width=W, media_height=H,
                    media_fps=15, media_kbps=600)


def card_share(img: np.ndarray | None) -> tuple[float, float]:
    """Of the card's area in a decoded program picture: the share near the card's paper, and near its bars."""
    if img is None:
        return 0.0, 0.0
    x, y, w, h = card_rect(img.shape[1], img.shape[0])
    area = img[y:y + h, x:x + w].astype(int)
    paper = (np.abs(area - np.array(CARD_BG)).max(axis=2) < 30).mean()
    bars = (np.abs(area - np.array(BAR)).max(axis=2) < 40).mean()
    return float(paper), float(bars)


def test_the_card_is_drawn_in_thai(artifacts: Path) -> None:
    op = channel.PollCard(show=True, poll_id=1, question="เห็นชอบให้ตั้งด่านชุมชนทุกอำเภอหรือไม่",
                          options=["เห็นชอบ", "ไม่เห็นชอบ"], counts=[4, 1], voters=5)
    rgb = render_card(op, 640, 360)
    Image.fromarray(rgb).save(artifacts / "poll-card.png")
    assert raqm_available()  # Thai marks placed by the shaping engine
    paper = (np.abs(rgb.astype(int) - np.array(CARD_BG)).max(axis=2) < 10).mean()
    assert 0.5 < paper < 0.97
    # The winning option's bar is four times the other's.
    red = np.abs(rgb.astype(int) - np.array(BAR)).max(axis=2) < 10
    rows = red.sum(axis=1)
    lengths = sorted({int(n) for n in rows if n > 20})
    assert lengths and lengths[-1] > 3 * lengths[0], lengths


@pytest.mark.slow
async def test_the_card_reaches_a_receiving_agent(hub: HubHandle, http: aiohttp.ClientSession,
                                                  run_agent: Callable[..., Any], artifacts: Path) -> None:
    api = Api(http, hub)
    async with agents(hub, run_agent, SITES) as ag:
        cid = await start_briefing(api, SITES, title="ประชุมทดสอบผลการลงมติ")
        base = f"/api/v1/conferences/{cid}"
        viewer = ag["UDN01"]
        assert await wait_for(lambda: viewer.last is not None, 40), "no program at UDN01"
        assert card_share(viewer.last)[0] < 0.05  # no card yet
        _, poll = await api.call("POST", base + "/polls", body={
            "question": "เห็นชอบแผนหรือไม่", "options": ["เห็นชอบ", "ไม่เห็นชอบ"]}, expect=201)
        status, err = await api.call("POST", f"{base}/polls/{poll['id'] + 99}/card", body={"show": True})
        assert status == 404 and err["reason"] == "unknown_poll"
        for site, option in (("UDN01", 0), ("UDN02", 0)):
            await api.call("POST", f"{base}/polls/{poll['id']}/votes", body={"participant": site, "option": option},
                           expect=201)
        await api.call("POST", f"{base}/polls/{poll['id']}/close", expect=200)  # closing shows the card
        assert await wait_for(lambda: card_share(viewer.last)[0] > 0.4, 15), card_share(viewer.last)
        assert card_share(viewer.last)[1] > 0.02  # the bar of the winning option (red, nowhere else in the program)
        assert viewer.last is not None
        Image.fromarray(viewer.last).save(artifacts / "program-with-poll-card.png")
        await api.call("POST", f"{base}/polls/{poll['id']}/card", body={"show": False}, expect=200)
        assert await wait_for(lambda: card_share(viewer.last)[0] < 0.05, 15), card_share(viewer.last)
        await api.call("POST", base + "/end", expect=200)
