"""A district presents over its own authenticated channel; without the floor or the chair's leave it is refused.

Real hub and media worker, two real agents (aiortc receivers); the district's
upload goes through :class:`site_agent.content.service.Presenter` with the
agent's site token, exactly as the clerk's present dialog sends it.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from site_agent.content.service import Presenter, PresentRefused
from tests.conftest import HubHandle
from tests.e2e.test_content_program import (
    PROVINCE,
    WATCHER,
    api,
    district,
    fills,
    start,
    until,
)
from tests.e2e.test_content_program import (
    settings as settings,
)
from tests.hub.content.contentkit import pptx_bytes

ORANGE = (230, 110, 20)

pytestmark = pytest.mark.slow


async def test_a_district_presents_when_allowed_and_is_refused_politely_otherwise(
    hub: HubHandle, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    deck = tmp_path / "รายงานอำเภอ.pptx"
    deck.write_bytes(pptx_bytes(ORANGE, slides=2))
    async with district(hub, PROVINCE) as (province, _p), district(hub, WATCHER) as (_w, clerk_client):
        cid = await start(http, hub, province)
        presenter = Presenter(clerk_client.config)

        # Nobody gave this district the floor or leave to present: refused before the file is read.
        with pytest.raises(PresentRefused) as refused:
            await presenter.upload(deck)
        assert refused.value.status == 403 and refused.value.refusal.code == "district_not_allowed"
        assert "ขออภัย" in refused.value.refusal.th and "not allowed" not in refused.value.refusal.th
        assert "chair" in refused.value.refusal.en
        library = await api(http, hub, "GET", f"/api/v1/conferences/{cid}/content")
        assert library["items"] == []
        stage = await presenter.stage()
        assert not stage.allowed and not stage.mine

        # The chair allows it: the upload is converted and shown, the province sees it.
        await api(http, hub, "POST", f"/api/v1/conferences/{cid}/content/districts/{WATCHER}/allow", {"allow": True})
        answer = await presenter.upload(deck)
        assert answer.conference_id == cid and answer.name == deck.name
        await until(lambda: fills(province.program, ORANGE), 90, "the district's slide in the program")
        summary = await api(http, hub, "GET", f"/api/v1/conferences/{cid}")
        assert summary["layout"] == "presentation"

        # The clerk steps its own pages.
        stage = await presenter.stage()
        assert stage.mine and stage.allowed and (stage.page, stage.pages) == (1, 2)
        stage = await presenter.step("next")
        assert stage.page == 2
        async with http.get(f"{hub.url}/api/v1/audit?action=content.page", headers=hub.auth("admin")) as resp:
            rows = await resp.json()
        assert any(r["actor"] == f"agent:{WATCHER}" for r in rows), rows
        await presenter.step("end")
        await until(lambda: not fills(province.program, ORANGE, share=0.3), 15, "content ended")
