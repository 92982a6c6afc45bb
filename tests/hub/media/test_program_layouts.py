"""The composed program, decoded at real receivers: which colour sits in which tile."""

from __future__ import annotations

import pytest

from hub.conferences.conference import Conference
from hub.conferences.floor import Actor
from hub.conferences.layout import LAYOUTS
from hub.media.compositor import SLATE_BG
from tests.hub.media.mediakit import (
    COLOURS,
    Rig,
    close_to,
    colour_at,
    mismatches,
    tile_centre,
    wait_for,
)

CHAIR = Actor.of_chair("operator:test")
SITES = ["UDN00", "UDN01", "UDN02", "UDN03", "UDN04"]


@pytest.mark.slow
async def test_every_layout_and_floor_changes(rig: Rig) -> None:
    conf = Conference(id=1, title="ทดสอบ", province="UDN00", participants=list(SITES))
    await rig.scene(conf)
    for code in SITES:
        await rig.join(code)
    watcher, other = rig.sites["UDN01"], rig.sites["UDN04"]
    assert await wait_for(lambda: watcher.last_video is not None, 5), "no program at UDN01"

    async def expect(label: str) -> None:
        ok = await wait_for(lambda: watcher.last_video is not None and not mismatches(watcher.last_video, conf), 4)
        assert watcher.last_video is not None
        assert ok, f"{label}: {mismatches(watcher.last_video, conf)}"
        # every site receives the same program
        assert other.last_video is not None
        assert await wait_for(lambda: not mismatches(other.last_video, conf), 2), label  # type: ignore[arg-type]

    for layout in LAYOUTS:
        conf.set_layout(layout, "op")
        await rig.scene(conf)
        await expect(layout)

    # floor changes move the holder into the large tile
    conf.set_layout("1+N", "op")
    for holder in ("UDN03", "UDN02"):
        conf.give_floor(holder, CHAIR)
        await rig.scene(conf)
        await expect(f"1+N, floor at {holder}")
        big = conf.render_state()["tiles"][0]
        assert big["site"] == holder and big["w"] == 960
        assert close_to(colour_at(watcher.last_video, *tile_centre(big)), COLOURS[holder])  # type: ignore[arg-type]
    conf.set_layout("speaker", "op")
    await rig.scene(conf)
    await expect("speaker with UDN02")


@pytest.mark.slow
async def test_site_without_video_shows_slate(rig: Rig) -> None:
    # UDN09 is in the conference but has not joined: its tile is a slate, never black
    conf = Conference(id=2, title="t", province="UDN00", participants=["UDN00", "UDN09"])
    conf.set_layout("2x2", "op")
    await rig.scene(conf)
    site = await rig.join("UDN00")
    assert await wait_for(lambda: site.last_video is not None and not mismatches(site.last_video, conf), 5)
    tile = conf.render_state()["tiles"][1]
    assert tile["site"] == "UDN09"
    x, y = tile_centre(tile)
    # sample the slate's background, away from its centred text
    got = colour_at(site.last_video, x, y + 30)  # type: ignore[arg-type]
    assert close_to(got, SLATE_BG, tol=25), got
    assert max(got) > 40  # not black
