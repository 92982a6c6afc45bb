"""The content tile in the media worker (hub.media.content_source, content_clip): real PNGs, a real MP4.

A page is scaled once per version to the tile's real size and asks for one keyframe;
a clip's pictures follow its play head and its sound stops when it is paused.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hub.conferences.conference import Conference
from hub.media import channel
from hub.media.compositor import Compositor, yuv_to_rgb
from hub.media.content_source import ContentSource, fit, page_picture
from tests.hub.content.contentkit import mp4_file, tone_free_of, wait_until

TILE = (240, 134)  # the content tile of a 320×180 program (even edges)


def page(tmp: Path, colour: tuple[int, int, int], size: tuple[int, int] = (480, 270)) -> Path:
    path = tmp / f"page-{colour[0]}-{size[0]}.png"
    picture = Image.new("RGB", size, colour)
    # a one-pixel black line: Lanczos keeps it dark, a box filter would smear it away
    picture.paste((0, 0, 0), (size[0] // 2, 0, size[0] // 2 + 1, size[1]))
    picture.save(path)
    return path


def show(source: ContentSource, version: int, image: Path | None, clip: channel.ContentClip | None = None,
         keyframe: bool = True) -> None:
    source.apply(channel.ContentShow(conference_id=1, version=version, image=str(image) if image else None,
                                     clip=clip, keyframe=keyframe))


def test_fit_keeps_the_aspect_on_even_pixels() -> None:
    assert fit(1920, 1080, 240, 134) == (238, 134)
    assert fit(1080, 1920, 240, 134) == (74, 134)


def test_a_page_is_scaled_to_the_tile_once_and_asks_for_one_keyframe(tmp_path: Path) -> None:
    source = ContentSource()
    blue = page(tmp_path, (16, 128, 224))
    show(source, 1, blue)
    first = source.frame_for(*TILE)
    assert first is not None and (first.width, first.height) == TILE
    assert source.take_keyframe() and not source.take_keyframe()
    assert source.frame_for(*TILE) is first and source.pages_scaled == 1  # same version: not read again
    rgb = first.to_ndarray(format="rgb24")
    assert np.abs(rgb[80, 40].astype(int) - (16, 128, 224)).max() < 12
    sharp = page_picture(blue, *TILE)
    assert sharp[60, 118:122].min() < 90  # the thin line survives the scale

    show(source, 2, page(tmp_path, (200, 30, 30)), keyframe=True)
    second = source.frame_for(*TILE)
    assert second is not first and source.take_keyframe()
    show(source, 3, None)
    assert source.frame_for(*TILE) is None and not source.active


def test_the_compositor_draws_the_page_in_the_presentation_tile(tmp_path: Path) -> None:
    compositor = Compositor(320, 180)
    conf = Conference(id=1, title="t", province="UDN01", participants=["UDN01", "UDN02"], layout="presentation")
    state = conf.render_state({})
    compositor.set_scene(state["tiles"], {})
    compositor.apply_scene()
    source = ContentSource()
    show(source, 1, page(tmp_path, (16, 128, 224)))
    frames: dict[str, tuple[int, object]] = {}
    requested: list[bool] = []
    source.add_to(frames, compositor.tile_size(channel.CONTENT), lambda: requested.append(True))  # type: ignore[arg-type]
    canvas = compositor.compose({site: frame for site, (_seq, frame) in frames.items()})  # type: ignore[misc]
    rgb = yuv_to_rgb(canvas, 320, 180)
    assert np.abs(rgb[90, 60].astype(int) - (16, 128, 224)).max() < 14
    assert requested == [True]


def test_a_clip_plays_its_pictures_and_sound_and_pauses(tmp_path: Path) -> None:
    clip = mp4_file(tmp_path / "c.mp4", seconds=3.0, tone_hz=1000)
    source = ContentSource()
    now = time.monotonic()
    show(source, 1, None, channel.ContentClip(path=str(clip), duration_s=3.0, position_s=0.5, at=now, playing=True))
    assert wait_until(lambda: source.frame_for(*TILE) is not None, 5)
    chunks = []
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        chunk = source.audio_chunk()
        if chunk is not None:
            chunks.append(chunk)
        time.sleep(0.02)
    assert len(chunks) > 20, "about 50 chunks of 20 ms in a second"
    assert not tone_free_of(np.concatenate(chunks), 1000)
    seen = source.frame_for(*TILE)
    time.sleep(0.3)
    assert source.frame_for(*TILE) is not seen  # the pictures move on

    paused_at = time.monotonic()
    show(source, 2, None, channel.ContentClip(path=str(clip), duration_s=3.0, position_s=1.8, at=paused_at,
                                              playing=False))
    # Paused, the player may first hold a frame from before the position (kept in case the
    # position lies past the last frame) and then the one at it: then the picture stands still.
    def stands_still() -> bool:
        first = source.frame_for(*TILE)
        time.sleep(0.3)
        return first is not None and source.frame_for(*TILE) is first

    assert wait_until(stands_still, 5), "a paused clip keeps one picture"
    still = source.frame_for(*TILE)
    time.sleep(0.3)
    assert source.frame_for(*TILE) is still and source.audio_chunk() is None
    source.close()


@pytest.mark.parametrize("bad", ["missing.mp4", "not-a-clip.mp4"])
def test_a_broken_clip_leaves_the_poster_and_no_sound(tmp_path: Path, bad: str) -> None:
    path = tmp_path / bad
    if bad == "not-a-clip.mp4":
        path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(500))
    poster = page(tmp_path, (10, 200, 10))
    source = ContentSource()
    show(source, 1, poster, channel.ContentClip(path=str(path), duration_s=2.0, position_s=0.0,
                                                at=time.monotonic(), playing=True))
    time.sleep(0.3)
    frame = source.frame_for(*TILE)
    assert frame is not None and source.audio_chunk() is None
    assert np.abs(frame.to_ndarray(format="rgb24")[60, 40].astype(int) - (10, 200, 10)).max() < 14
    source.close()
