"""The program on a meeting-room PC: a real ffplay window (under Xvfb) and sound (SDL's dummy driver)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import pytest

from hub.conferences.conference import Conference
from site_agent.media.endpoint import ProgramPlayer
from tests.conftest import private_xvfb
from tests.hub.media.mediakit import Rig, wait_for


@pytest.fixture
def display() -> Iterator[str]:
    with private_xvfb("800x600x24") as name:
        yield name


@pytest.mark.slow
async def test_program_plays_in_a_window_with_sound(rig: Rig, display: str) -> None:
    env = {**os.environ, "DISPLAY": display, "SDL_AUDIODRIVER": "dummy"}
    player = ProgramPlayer(env=env)
    conf = Conference(id=8, title="t", province="UDN00", participants=["UDN00"])
    await rig.scene(conf)
    site = await rig.join("UDN00", player=player)
    assert await wait_for(lambda: player.video_bytes > 10 * 320 * 180 * 3 // 2, 8), "no picture reached ffplay"
    assert await wait_for(lambda: player.audio_bytes > 48_000, 8), "no sound reached ffplay"
    assert player.video is not None and player.video.returncode is None  # the window stays open
    assert player.audio is not None and player.audio.returncode is None
    # the window is on the display, titled "ศาลากลาง · Salaklang" (xdotool: scripts/apt-packages.txt)
    found = False
    for _ in range(50):
        proc = await asyncio.create_subprocess_exec("xdotool", "search", "--name", "Salaklang", env=env,
                                                    stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.DEVNULL)
        out, _ = await proc.communicate()
        if proc.returncode == 0 and out.strip():
            found = True
            break
        await asyncio.sleep(0.1)
    assert found, "no program window on the display"
    await site.endpoint.close()
    assert player.video is None and player.audio is None
