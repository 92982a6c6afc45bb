"""The floor path end to end: the clerk raises a hand, the chair grants it, the program follows.

Real hub (control WebSocket, conference manager, media worker process), real agents
(AgentClient + the media endpoint), and the clerk's own ``toggle_hand`` — the function
the tray menu and the clerk window call. The hub's answers reach the clerk's state as
the tray shows them; the program is decoded at a receiving district.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import av
import numpy as np
import pytest

from hub.conferences.layout import CANVAS_H, CANVAS_W
from hub.settings import Settings
from site_agent.clerk.service import ClerkAgent
from site_agent.clerk.state import floor_label
from site_agent.client import AgentClient
from site_agent.media.endpoint import MediaEndpoint, install
from tests.conftest import HubHandle
from tests.hub.media.mediakit import COLOURS, TONES, close_to, colour_at, wait_for

W, H = 320, 180
CLERK, WATCHER = "UDN02", "UDN03"

pytestmark = pytest.mark.slow


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var", port=0, host="127.0.0.1",
                    media_width=W, media_height=H, media_fps=15, media_kbps=600)


class District:
    def __init__(self, client: AgentClient, endpoint: MediaEndpoint, clerk: ClerkAgent | None) -> None:
        self.client = client
        self.endpoint = endpoint
        self.clerk = clerk
        self.program: np.ndarray | None = None

    def on_video(self, frame: av.VideoFrame) -> None:
        self.program = frame.to_ndarray(format="rgb24")


@contextlib.asynccontextmanager
async def district(hub: HubHandle, code: str, tmp: Path, with_clerk: bool) -> AsyncIterator[District]:
    config = await hub.enrol_agent(code)
    client = AgentClient(config, backoff_base=0.1, backoff_cap=1.0)
    holder: list[District] = []
    endpoint = install(client, colour=COLOURS[code], tone_hz=TONES[code],
                       on_video=lambda f: holder[0].on_video(f))
    clerk = ClerkAgent(client, lang="en", updates_root=tmp / f"updates-{code}") if with_clerk else None
    d = District(client, endpoint, clerk)
    holder.append(d)
    task = asyncio.create_task(client.run())
    try:
        await client.wait_connected(timeout=10)
        yield d
    finally:
        await endpoint.close()
        client.stop()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(task, 5)


def large_tile(img: np.ndarray) -> tuple[int, int, int]:
    # the 1+N large tile spans (0,0)-(960,540) of 1280×720
    return colour_at(img, 480 * W // CANVAS_W, 270 * H // CANVAS_H)


async def api(http: aiohttp.ClientSession, hub: HubHandle, method: str, path: str, body: Any = None,
              expect: int = 200) -> Any:
    async with http.request(method, hub.url + path, json=body, headers=hub.auth("operator")) as resp:
        data = await resp.json()
        assert resp.status == expect, (method, path, resp.status, data)
        return data


async def until(pred: Callable[[], bool], timeout: float, what: str) -> None:
    assert await wait_for(pred, timeout), what


async def test_raise_hand_grant_and_the_program_follows(
    hub: HubHandle, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    async with district(hub, CLERK, tmp_path, with_clerk=True) as clerk_site, \
            district(hub, WATCHER, tmp_path, with_clerk=False) as watcher:
        clerk = clerk_site.clerk
        assert clerk is not None

        # No briefing yet: the raised hand is answered, and the tray says why nothing happens.
        await clerk.toggle_hand()
        await until(lambda: clerk.state.floor == "no_briefing", 10, "no-briefing answer")
        assert floor_label(clerk.state, "en") == "Raise hand (no briefing is running)"
        assert not clerk.state.in_briefing

        conf = await api(http, hub, "POST", "/api/v1/conferences",
                         {"sites": [WATCHER, CLERK], "layout": "1+N", "title": "ทดสอบการขอพูด"}, expect=201)
        cid = conf["id"]

        def shows(d: District, code: str) -> bool:
            return d.program is not None and close_to(large_tile(d.program), COLOURS[code])

        # Both joined; the first participant is in the large tile.
        await until(lambda: shows(watcher, WATCHER), 30, "the program at the watcher")
        assert clerk.state.in_briefing

        # The clerk's raise-hand: the hub queues it and answers with the position.
        await clerk.toggle_hand()
        await until(lambda: clerk.state.floor == "queued", 10, "queued answer")
        assert clerk.state.floor_position == 1
        assert floor_label(clerk.state, "en") == "Hand raised (position 1)"
        summary = await api(http, hub, "GET", f"/api/v1/conferences/{cid}")
        (request,) = summary["floor"]["requests"]
        assert (request["site"], request["status"]) == (CLERK, "pending")

        # The chair grants it over the API: the scene the worker renders puts the clerk large...
        summary = await api(http, hub, "POST", f"/api/v1/conferences/{cid}/floor/{request['id']}/grant")
        assert summary["floor"]["holder"] == CLERK
        large = [t for t in summary["tiles"] if t["role"] == "large"]
        assert [t["site"] for t in large] == [CLERK]
        # ...the decoded program at the other district shows it...
        await until(lambda: shows(watcher, CLERK), 10, "the clerk's picture in the large tile")
        # ...and the clerk's own state says so.
        await until(lambda: clerk.state.floor == "granted", 10, "granted at the clerk")
        assert floor_label(clerk.state, "en") == "You have the floor"

        # Lowering the hand gives the floor back; the first participant returns to the large tile.
        await clerk.toggle_hand()
        await until(lambda: clerk.state.floor == "released", 10, "released")
        await until(lambda: shows(watcher, WATCHER), 10, "the first participant back in the large tile")
        summary = await api(http, hub, "GET", f"/api/v1/conferences/{cid}")
        assert summary["floor"]["holder"] is None
