"""The clerk presents from the agent: the present dialog (real Tk) showing the hub's polite
refusal, Thai first (the live screen share: test_screen_share.py).

A real hub on a loopback port (media off: these tests are about the upload path, the
program itself is covered by tests/e2e/test_content_district.py).
"""

from __future__ import annotations

import asyncio
import gc
import queue
import threading
import tkinter as tk
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import aiohttp
import pytest
from PIL import Image
from sqlmodel import Session

from hub.briefings.store import BriefingOccurrence, BriefingSeries
from hub.conferences.keys import CONFERENCES
from hub.content.keys import CONTENT
from hub.settings import Settings
from site_agent.content.service import Presenter
from site_agent.ui.present import PresentDialog
from tests.conftest import HubHandle, private_xvfb
from tests.hub.content.contentkit import pptx_bytes

CLERK = "UDN04"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var", port=0, host="127.0.0.1", media_enabled=False,
                    content_page_width=480, content_page_height=270)


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    # One X server for the module: Tk keeps its display connection after destroy(), and Xlib
    # ends the whole process when that server goes away under it.
    with private_xvfb("640x360x24") as name:
        yield name


async def briefing(http: aiohttp.ClientSession, hub: HubHandle, *sites: str) -> int:
    async with http.post(f"{hub.url}/api/v1/conferences", headers=hub.auth("operator"),
                         json={"sites": list(sites), "layout": "1+N", "title": "อำเภอนำเสนอ"}) as resp:
        body = await resp.json()
        assert resp.status == 201, body
        return int(body["id"])


class Host:
    """The clerk window's part the dialog uses: a Tk root, the agent's loop, the window's queue."""

    def __init__(self, display: str) -> None:
        self.root = tk.Tk(screenName=display)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.queue: queue.Queue[Callable[[], object]] = queue.Queue()

    def post(self, fn: Callable[[], object]) -> None:
        self.queue.put(fn)

    async def pump(self, until: Callable[[], bool], timeout: float = 20) -> bool:
        for _ in range(int(timeout / 0.05)):
            while not self.queue.empty():
                self.queue.get_nowait()()
            self.root.update()
            if until():
                return True
            await asyncio.sleep(0.05)
        return False

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()
        self.root.destroy()


async def test_the_present_dialog_shows_the_refusal_thai_first(
    hub: HubHandle, http: aiohttp.ClientSession, display: str, tmp_path: Path
) -> None:
    config = await hub.enrol_agent(CLERK)
    other = await hub.enrol_agent("UDN05")
    deck = tmp_path / "รายงาน.pptx"
    deck.write_bytes(pptx_bytes())

    async def scenario(host: Host) -> None:
        # its own frame: the dialog's widgets are gone when it returns, before Tk is torn down
        dialog = PresentDialog(host, Presenter(config))  # a stand-in for the window
        dialog.upload(deck)
        assert await host.pump(lambda: "ไม่มีการประชุม" in str(dialog.status.cget("text")))
        text = str(dialog.status.cget("text"))
        assert text.index("ไม่มีการประชุม") < text.index("no briefing")
        # sharing the screen outside a briefing's video: the reason, Thai on the first line
        dialog.share()
        assert await host.pump(lambda: "แชร์หน้าจอไม่ได้" in str(dialog.status.cget("text")))
        first, second = str(dialog.status.cget("text")).splitlines()
        assert "แชร์หน้าจอไม่ได้" in first and "cannot be shared" in second

        cid = await briefing(http, hub, other.site, CLERK)
        async with http.post(f"{hub.url}/api/v1/conferences/{cid}/floor", json={"site": other.site},
                             headers=hub.auth("operator")) as resp:
            assert resp.status == 200, await resp.text()  # another district has the floor
        dialog.upload(deck)
        assert await host.pump(lambda: "ขออภัย" in str(dialog.status.cget("text")))
        text = str(dialog.status.cget("text"))
        assert text.splitlines()[0].startswith("ขออภัย") and "chair" in text.splitlines()[1]

        # the floor moves to this district: now it may present without the chair's leave
        async with http.post(f"{hub.url}/api/v1/conferences/{cid}/floor", json={"site": CLERK},
                             headers=hub.auth("operator")) as resp:
            assert resp.status == 200, await resp.text()
        dialog.upload(deck)
        assert await host.pump(lambda: "ส่งแล้ว" in str(dialog.status.cget("text")))
        assert "Sent, converting" in str(dialog.status.cget("text"))

    host = Host(display)
    try:
        await scenario(host)
    finally:
        host.close()
        del host.root  # Tk freed on this thread (see above), not by a later collection elsewhere
        gc.collect()


async def test_a_districts_upload_to_a_scheduled_briefing_is_in_its_series_library(
    hub: HubHandle, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    config = await hub.enrol_agent(CLERK)
    with Session(hub.engine) as s:
        series = BriefingSeries(uid="content-series@test", title="ประชุมประจำสัปดาห์", spec={}, passcode="1234")
        s.add(series)
        s.commit()
        s.refresh(series)
        assert series.id is not None
        occ = BriefingOccurrence(series_id=series.id, key_date=date(2026, 12, 1),
                                 starts_at=datetime(2026, 12, 1, 2, tzinfo=UTC),
                                 ends_at=datetime(2026, 12, 1, 3, tzinfo=UTC))
        s.add(occ)
        s.commit()
        s.refresh(occ)
        series_id, occurrence_id = series.id, occ.id
    cid = await hub.app[CONFERENCES].start([CLERK], "1+N", title="ประชุมประจำสัปดาห์",
                                           occurrence_id=occurrence_id, actor="operator:test")
    await hub.app[CONTENT].allow(cid, CLERK, True, actor="operator:test")
    photo = tmp_path / "ภาพ.png"
    Image.new("RGB", (64, 36), (0, 90, 200)).save(photo)
    answer = await Presenter(config).upload(photo)
    async with http.get(f"{hub.url}/api/v1/series/{series_id}/content", headers=hub.auth("operator")) as resp:
        library = await resp.json()
    (item,) = library["items"]
    assert item["id"] == answer.item_id and item["series_id"] == series_id and len(item["sha256"]) == 64
