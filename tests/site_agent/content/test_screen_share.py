"""A district shares its screen live: FFmpeg's x11grab of a real X server, through the agent's
screen stream, into the program's content tile at another district.

Real parts: an Xvfb display with a window whose colour a child process changes mid-test, the
sharing agent's real endpoint (aiortc, MediaPlayer on x11grab), the real hub and its media
worker, and a receiving agent that decodes the program. The colour changing in the content
tile proves frames keep arriving (a still picture would keep the first colour).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import numpy as np
import pytest

from site_agent.content.screen import ScreenUnavailable, fit_even, open_screen, screen_source
from site_agent.content.service import Presenter, PresentRefused
from tests.conftest import HubHandle, private_xvfb
from tests.e2e.test_content_program import (
    PROVINCE,
    WATCHER,
    H,
    W,
    api,
    district,
    fills,
    large_tile_is,
    start,
    until,
)
from tests.e2e.test_content_program import (
    settings as settings,
)
from tests.hub.media.mediakit import COLOURS, close_to

FIRST = (255, 120, 0)  # orange: no district's camera colour, not a slate
SECOND = (20, 110, 200)  # a mid blue, far from the blue district's
SPEAKER_AT = (H * 90 // 720, W * 1120 // 1280)  # the presentation layout's speaker tile (960, 0, 320, 180)

PAINTER = """
import pathlib, sys, tkinter as tk
path = pathlib.Path(sys.argv[1])
root = tk.Tk()
root.geometry("640x360+0+0")
root.overrideredirect(True)
shown = None
def poll():
    global shown
    colour = path.read_text().strip()
    if colour and colour != shown:
        root.configure(bg=colour)
        shown = colour
    root.after(40, poll)
poll()
root.mainloop()
"""


def hexcolour(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


@contextlib.contextmanager
def painted_screen(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An X server whose whole screen is one window; its colour is what ``colour_file`` says."""
    colour_file = tmp_path / "colour"
    colour_file.write_text(hexcolour(FIRST))
    with private_xvfb("640x360x24") as display:
        painter = subprocess.Popen([sys.executable, "-c", PAINTER, str(colour_file)],
                                   env={**os.environ, "DISPLAY": display})
        try:
            yield display, colour_file
        finally:
            painter.terminate()
            painter.wait(5)


def test_each_platform_has_its_grabber_and_others_are_told_why_not() -> None:
    assert screen_source("linux", ":5").format == "x11grab" and screen_source("linux", ":5").file == ":5"
    assert screen_source("win32").format == "gdigrab" and screen_source("win32").file == "desktop"
    assert screen_source("darwin").format == "avfoundation"
    assert screen_source("linux", ":5", fps=6).options["framerate"] == "6"
    with pytest.raises(ScreenUnavailable) as other:
        screen_source("sunos5")
    assert "แชร์หน้าจอไม่ได้" in other.value.th and "not available" in other.value.en
    assert fit_even(2560, 1440) == (1280, 720) and fit_even(640, 360) == (640, 360) and fit_even(1366, 768) == (1280, 720) and fit_even(1024, 1280) == (576, 720)


def test_a_screen_that_cannot_be_opened_is_a_clear_error() -> None:
    with pytest.raises(ScreenUnavailable) as no_display:
        open_screen(":987654", platform="linux")  # no X server there
    assert "เปิดภาพหน้าจอไม่ได้" in no_display.value.th and "x11grab" in no_display.value.en


@pytest.mark.slow
async def test_a_districts_live_screen_fills_the_content_tile_and_follows_the_screen(
    hub: HubHandle, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    with painted_screen(tmp_path) as (display, colour_file):
        async with district(hub, PROVINCE) as (province, _p), district(hub, WATCHER) as (_w, clerk):
            presenter = Presenter(clerk.config)  # the endpoint the agent installed, as the window's dialog
            with pytest.raises(ScreenUnavailable) as no_call:  # no briefing's video to send it on yet
                await presenter.share_screen(display)
            assert "แชร์หน้าจอไม่ได้" in no_call.value.th and "not in a briefing" in no_call.value.en
            cid = await start(http, hub, province)

            # Neither the floor nor the chair's leave: refused politely, nothing captured stays open.
            with pytest.raises(PresentRefused) as refused:
                await presenter.share_screen(display)
            assert refused.value.status == 403 and refused.value.refusal.code == "district_not_allowed"
            assert presenter.sharing is None

            await api(http, hub, "POST", f"/api/v1/conferences/{cid}/content/districts/{WATCHER}/allow",
                      {"allow": True})
            stage = await presenter.share_screen(display)
            assert stage.screen and stage.mine
            await until(lambda: fills(province.program, FIRST), 15, "the shared screen in the content tile")
            assert (await api(http, hub, "GET", f"/api/v1/conferences/{cid}"))["layout"] == "presentation"
            # the speaker tile keeps the camera of the one who is heard (here the province, first in order)
            assert province.program is not None
            assert close_to(tuple(int(v) for v in province.program[SPEAKER_AT]), COLOURS[PROVINCE])  # type: ignore[arg-type]

            # The screen changes: the content tile follows (live video, not one picture).
            colour_file.write_text(hexcolour(SECOND))
            await until(lambda: fills(province.program, SECOND), 10, "the screen's new colour in the program")

            snap = await api(http, hub, "GET", f"/api/v1/conferences/{cid}/content/stage")
            assert snap["showing"]["screen"] == WATCHER and snap["image_url"] is None

            stage = await presenter.stop_screen()
            assert not stage.screen and presenter.sharing is None
            await until(lambda: large_tile_is(province.program, COLOURS[PROVINCE]), 10, "the layout from before")
            assert (await api(http, hub, "GET", f"/api/v1/conferences/{cid}"))["layout"] == "1+N"
            assert not fills(province.program, SECOND, share=0.3)

            async with http.get(f"{hub.url}/api/v1/audit?action=content.screen.start",
                                headers=hub.auth("admin")) as resp:
                starts = await resp.json()
            assert sorted(r["ok"] for r in starts if r["actor"] == f"agent:{WATCHER}") == [False, True], starts
            async with http.get(f"{hub.url}/api/v1/audit?action=content.screen.stop",
                                headers=hub.auth("admin")) as resp:
                assert any(r["actor"] == f"agent:{WATCHER}" for r in await resp.json())
            assert np.asarray(province.program).shape == (H, W, 3)

            # Shared again, then the operator ends content: the agent stops capturing by itself.
            await presenter.share_screen(display)
            await until(lambda: fills(province.program, SECOND), 10, "the screen shared again")
            await api(http, hub, "POST", f"/api/v1/conferences/{cid}/content/stage/end", {})
            await until(lambda: presenter.sharing is None, 8, "the capture stopped when the operator ended it")
            with pytest.raises(PresentRefused) as not_sharing:
                await presenter.stop_screen()
            assert not_sharing.value.status == 409 and not_sharing.value.refusal.code == "not_sharing"
            assert not_sharing.value.refusal.th.startswith("อำเภอ")
