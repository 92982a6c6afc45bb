"""A district's live screen in the content tile (hub.media.screen, hub.media.content_source) and on the stage.

The screen stream is a real aiortc track here (frames of known colours); the tile is
repainted with each new frame, letterboxed to the tile, and asks for one keyframe.
"""

from __future__ import annotations

import asyncio

import av
import numpy as np
import pytest
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from hub.content.model import Category, Change, ContentError, Kind, Stage
from hub.media import channel
from hub.media.content_source import ContentSource
from hub.media.screen import ScreenFrames

TILE = (240, 134)
SITE = "UDN07"


class Screen(MediaStreamTrack):
    """Frames of the colours it is given, then the end of the stream."""

    kind = "video"

    def __init__(self, colours: list[tuple[int, int, int]], size: tuple[int, int] = (320, 180)) -> None:
        super().__init__()
        self.colours = list(colours)
        self.size = size
        self.sent = asyncio.Event()

    async def recv(self) -> av.VideoFrame:
        if not self.colours:
            self.sent.set()
            await asyncio.sleep(3600)
            raise MediaStreamError
        rgb = np.empty((self.size[1], self.size[0], 3), dtype=np.uint8)
        rgb[:] = self.colours.pop(0)
        await asyncio.sleep(0)
        return av.VideoFrame.from_ndarray(rgb, format="rgb24")


def centre(frame: av.VideoFrame) -> tuple[int, ...]:
    rgb = frame.to_ndarray(format="rgb24")
    return tuple(int(v) for v in rgb[rgb.shape[0] // 2, rgb.shape[1] // 2])


async def feed(screens: ScreenFrames, track: Screen) -> asyncio.Task[None]:
    task = asyncio.create_task(screens.receive(SITE, track))
    await asyncio.wait_for(track.sent.wait(), 5)
    return task


async def test_the_tile_shows_the_newest_screen_frame_and_asks_for_one_keyframe() -> None:
    screens = ScreenFrames()
    source = ContentSource(screens=screens)
    source.apply(channel.ContentShow(conference_id=1, version=3, screen=SITE, keyframe=True))
    assert source.active and source.frame_for(*TILE) is None  # nothing from the district yet
    assert not source.take_keyframe()

    task = await feed(screens, Screen([(250, 0, 0)]))
    first = source.frame_for(*TILE)
    assert first is not None and (first.width, first.height) == TILE
    assert all(abs(a - b) < 12 for a, b in zip(centre(first), (250, 0, 0), strict=True))
    assert source.take_keyframe() and not source.take_keyframe()  # once per show
    assert source.frame_for(*TILE) is first  # no new frame: the same picture, not scaled again
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert screens.latest(SITE) is None  # the stream ended: nothing stale is kept

    task = await feed(screens, Screen([(0, 0, 250), (0, 250, 0)]))
    second = source.frame_for(*TILE)
    assert second is not None and second is not first
    assert all(abs(a - b) < 12 for a, b in zip(centre(second), (0, 250, 0), strict=True))
    assert source.screen_frames == 2 and screens.frames_in[SITE] == 3
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_a_picture_from_before_the_share_is_never_shown() -> None:
    screens = ScreenFrames()
    source = ContentSource(screens=screens)
    task = await feed(screens, Screen([(250, 0, 0)]))  # the end of an earlier share, still held
    source.apply(channel.ContentShow(conference_id=1, version=1, screen=SITE, keyframe=True))
    assert screens.latest(SITE) is not None and source.frame_for(*TILE) is None
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    task = await feed(screens, Screen([(0, 250, 0)]))
    frame = source.frame_for(*TILE)
    assert frame is not None and all(abs(a - b) < 12 for a, b in zip(centre(frame), (0, 250, 0), strict=True))
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_a_portrait_screen_is_letterboxed_and_an_oversized_one_is_refused() -> None:
    screens = ScreenFrames()
    source = ContentSource(screens=screens)
    source.apply(channel.ContentShow(conference_id=1, version=1, screen=SITE))
    task = await feed(screens, Screen([(240, 240, 240)], size=(180, 320)))
    frame = source.frame_for(*TILE)
    assert frame is not None
    rgb = frame.to_ndarray(format="rgb24")
    assert rgb[TILE[1] // 2, 2].max() < 20 and rgb[TILE[1] // 2, TILE[0] // 2].min() > 220  # black bars
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)

    task = await feed(screens, Screen([(1, 2, 3)], size=(3840, 2160)))
    assert screens.latest(SITE) is None and screens.rejected[SITE] == 1
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def test_the_stage_shows_a_districts_screen_and_ends_it_to_the_layout_before() -> None:
    stage = Stage()
    assert stage.share_screen(SITE, layout_now="2x2") is Change.SHOW
    assert stage.screen_of() == SITE and stage.showing is not None
    assert stage.showing.kind is Kind.SCREEN and stage.showing.category is Category.SCREEN
    assert stage.next() is Change.NONE  # one "page": stepping does nothing
    snap = stage.snapshot(0.0)
    assert snap["showing"]["screen"] == SITE  # type: ignore[index]
    assert stage.history == []  # a live screen is not a library item
    assert stage.end() == (Change.END, "2x2") and stage.screen_of() is None
    with pytest.raises(ContentError):
        stage.end()


def test_a_screen_replacing_a_document_keeps_the_layout_to_return_to() -> None:
    stage = Stage()
    stage.show(5, Kind.PDF, 3, layout_now="1+N")
    stage.share_screen(SITE, layout_now="presentation")
    assert stage.end() == (Change.END, "1+N")


def test_the_pipe_carries_the_screen_and_refuses_a_bad_site_code() -> None:
    op = channel.ContentShow(conference_id=1, version=2, screen=SITE, keyframe=True)
    line = channel.encode(channel.Request(id=1, op=op))
    assert channel.decode_request(line).op == op
    with pytest.raises(ValueError):
        channel.ContentShow(conference_id=1, version=2, screen="")
