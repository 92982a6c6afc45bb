"""Content into the program, end to end: a real hub, its media worker, two real receiving agents.

A PPTX made here (python-pptx: one big coloured shape, Thai text) is uploaded,
converted by LibreOffice and shown: the program decoded at a district shows the
shape's colour over the content tile, in the presentation layout; ending it
restores the layout from before. A clip with a known tone plays into the
program's sound (FFT at a district) and goes silent on pause. A media worker
killed while a photo is shown comes back with the photo in its content tile.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import io
import os
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import av
import numpy as np
import pytest
from PIL import Image

from hub.conferences.keys import CONFERENCES
from hub.conferences.layout import CANVAS_H, CANVAS_W
from hub.settings import Settings
from site_agent.client import AgentClient
from site_agent.media.endpoint import MediaEndpoint, install
from tests.conftest import HubHandle
from tests.hub.content.contentkit import SLIDE_BLUE, mp4_file, pptx_bytes
from tests.hub.media.mediakit import COLOURS, TONES, close_to, tone_db, wait_for

W, H = 320, 180
PROVINCE, WATCHER = "UDN01", "UDN03"
CLIP_TONE = 2600.0
PHOTO = (150, 60, 200)  # purple: no district colour, not the slate
# The presentation layout's content tile: (0, 0)-(960, 540) of 1280×720.
CONTENT_BOX = (0, 0, 960 * W // CANVAS_W, 540 * H // CANVAS_H)

pytestmark = pytest.mark.slow


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var", port=0, host="127.0.0.1",
                    media_width=W, media_height=H, media_fps=15, media_kbps=600,
                    content_page_width=480, content_page_height=270, content_convert_timeout_s=90)


class District:
    def __init__(self) -> None:
        self.program: np.ndarray | None = None
        self.audio: collections.deque[np.ndarray] = collections.deque(maxlen=100)  # ~2 s of 20 ms frames

    def on_video(self, frame: av.VideoFrame) -> None:
        self.program = frame.to_ndarray(format="rgb24")

    def on_audio(self, frame: av.AudioFrame) -> None:
        data = frame.to_ndarray().astype(np.float32)
        channels = len(frame.layout.channels)
        self.audio.append(data.reshape(-1, channels).mean(axis=1) if not frame.format.is_planar
                          else data.mean(axis=0))

    def recent_audio(self, frames: int = 50) -> np.ndarray:
        return np.concatenate(list(self.audio)[-frames:])


@contextlib.asynccontextmanager
async def district(hub: HubHandle, code: str) -> AsyncIterator[tuple[District, AgentClient]]:
    config = await hub.enrol_agent(code)
    client = AgentClient(config, backoff_base=0.1, backoff_cap=1.0)
    d = District()
    endpoint: MediaEndpoint = install(client, colour=COLOURS[code], tone_hz=TONES[code],
                                      on_video=d.on_video, on_audio=d.on_audio)
    task = asyncio.create_task(client.run())
    try:
        await client.wait_connected(timeout=10)
        yield d, client
    finally:
        await endpoint.close()
        client.stop()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(task, 5)


async def api(http: aiohttp.ClientSession, hub: HubHandle, method: str, path: str, body: Any = None,
              expect: int = 200) -> Any:
    async with http.request(method, hub.url + path, json=body, headers=hub.auth("operator")) as resp:
        data = await resp.json()
        assert resp.status == expect, (method, path, resp.status, data)
        return data


async def upload(http: aiohttp.ClientSession, hub: HubHandle, cid: int, name: str, data: bytes) -> int:
    form = aiohttp.FormData()
    form.add_field("file", data, filename=name)
    async with http.post(f"{hub.url}/api/v1/conferences/{cid}/content", data=form,
                         headers=hub.auth("operator")) as resp:
        body = await resp.json()
        assert resp.status == 202, body
        return int(body["id"])


async def ready(http: aiohttp.ClientSession, hub: HubHandle, item_id: int, timeout: float = 90) -> None:
    async def status() -> str:
        return str((await api(http, hub, "GET", f"/api/v1/content/{item_id}"))["status"])
    for _ in range(int(timeout / 0.25)):
        now = await status()
        if now != "converting":
            assert now == "ready", await api(http, hub, "GET", f"/api/v1/content/{item_id}")
            return
        await asyncio.sleep(0.25)
    raise AssertionError("conversion did not finish")


def fills(img: np.ndarray | None, colour: tuple[int, int, int], share: float = 0.9) -> bool:
    """Whether ``colour`` covers the content tile below the slide's title (the text is white)."""
    if img is None:
        return False
    x0, y0, x1, y1 = CONTENT_BOX
    region = img[y0 + (y1 - y0) * 3 // 10: y1 - 2, x0 + 2: x1 - 2].reshape(-1, 3).astype(int)
    near = (np.abs(region - np.array(colour)) <= 40).all(axis=1)
    return float(near.mean()) >= share


def large_tile_is(img: np.ndarray | None, colour: tuple[int, int, int]) -> bool:
    return img is not None and close_to(tuple(int(v) for v in img[H * 270 // 720, W * 480 // 1280]), colour)  # type: ignore[arg-type]


async def until(pred: Callable[[], bool], timeout: float, what: str) -> None:
    assert await wait_for(pred, timeout), what


async def start(http: aiohttp.ClientSession, hub: HubHandle, watcher: District) -> int:
    conf = await api(http, hub, "POST", "/api/v1/conferences",
                     {"sites": [PROVINCE, WATCHER], "layout": "1+N", "title": "สไลด์เข้ารายการ"}, expect=201)
    await until(lambda: large_tile_is(watcher.program, COLOURS[PROVINCE]), 30, "the program at the district")
    return int(conf["id"])


async def test_a_pptx_fills_the_content_tile_at_a_district(
    hub: HubHandle, http: aiohttp.ClientSession
) -> None:
    async with district(hub, PROVINCE) as _province, district(hub, WATCHER) as (watcher, _client):
        cid = await start(http, hub, watcher)
        item = await upload(http, hub, cid, "สรุปสงกรานต์.pptx", pptx_bytes(SLIDE_BLUE, slides=2))
        await ready(http, hub, item)

        stage = await api(http, hub, "POST", f"/api/v1/conferences/{cid}/content/stage/show", {"item_id": item})
        assert stage["layout"] == "presentation" and stage["layout_before"] == "1+N"
        await until(lambda: fills(watcher.program, SLIDE_BLUE), 15, "the slide's colour over the content tile")
        summary = await api(http, hub, "GET", f"/api/v1/conferences/{cid}")
        assert summary["layout"] == "presentation"

        # the next page is a new picture (the worker asks for a keyframe with it), the same colour
        manager = hub.app[CONFERENCES]
        before = await manager.media_stats(cid)
        await api(http, hub, "POST", f"/api/v1/conferences/{cid}/content/stage/next", {})
        await asyncio.sleep(1.0)
        after = await manager.media_stats(cid)
        assert before is not None and after is not None and after.keyframes > before.keyframes
        assert fills(watcher.program, SLIDE_BLUE)

        await api(http, hub, "POST", f"/api/v1/conferences/{cid}/content/stage/end", {})
        await until(lambda: large_tile_is(watcher.program, COLOURS[PROVINCE]), 15, "the layout from before")
        summary = await api(http, hub, "GET", f"/api/v1/conferences/{cid}")
        assert summary["layout"] == "1+N"
        assert not fills(watcher.program, SLIDE_BLUE, share=0.3)


async def test_a_clips_tone_is_in_the_program_while_it_plays_and_stops_on_pause(
    hub: HubHandle, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    clip = mp4_file(tmp_path / "clip.mp4", seconds=8.0, tone_hz=int(CLIP_TONE))
    async with district(hub, PROVINCE) as _province, district(hub, WATCHER) as (watcher, _client):
        cid = await start(http, hub, watcher)
        item = await upload(http, hub, cid, "คลิปเหตุการณ์.mp4", clip.read_bytes())
        await ready(http, hub, item)
        await api(http, hub, "POST", f"/api/v1/conferences/{cid}/content/stage/show", {"item_id": item})

        def tone() -> float:
            # the clip's tone against a quiet band next to it (the districts' own tones are elsewhere)
            samples = watcher.recent_audio(25)
            return tone_db(samples, CLIP_TONE) - tone_db(samples, CLIP_TONE + 400)

        await asyncio.sleep(1.0)
        assert tone() < 10, "the tone before play"
        await api(http, hub, "POST", f"/api/v1/conferences/{cid}/content/stage/play", {})
        await until(lambda: tone() > 20, 10, "the clip's tone at the district")

        await api(http, hub, "POST", f"/api/v1/conferences/{cid}/content/stage/pause", {})
        await asyncio.sleep(1.2)  # the 25 frames tone() reads are all after the pause
        assert tone() < 10, "the tone after pause"
        state = await api(http, hub, "GET", f"/api/v1/conferences/{cid}/content/stage")
        assert state["showing"]["clip"]["status"] == "paused" and 0 < state["showing"]["clip"]["position_s"] < 8


async def test_a_restarted_media_worker_shows_the_content_again(
    hub: HubHandle, http: aiohttp.ClientSession
) -> None:
    photo = io.BytesIO()
    Image.new("RGB", (640, 360), PHOTO).save(photo, "PNG")
    async with district(hub, PROVINCE) as _province, district(hub, WATCHER) as (watcher, _client):
        cid = await start(http, hub, watcher)
        item = await upload(http, hub, cid, "ภาพเหตุการณ์.png", photo.getvalue())
        await ready(http, hub, item)
        await api(http, hub, "POST", f"/api/v1/conferences/{cid}/content/stage/show", {"item_id": item})
        await until(lambda: fills(watcher.program, PHOTO), 15, "the photo in the content tile")

        worker = hub.app[CONFERENCES].live[cid].worker
        assert worker is not None and worker.pid is not None
        old_pid = worker.pid
        os.kill(old_pid, signal.SIGKILL)
        watcher.program = None
        # the manager starts a new worker and the districts rejoin; the content room re-sends the tile
        await until(lambda: fills(watcher.program, PHOTO), 60, "the photo after the worker restarted")
        restarted = hub.app[CONFERENCES].live[cid].worker
        assert restarted is not None and restarted.pid != old_pid
