"""The compositor alone: tiles, Thai name strips, slates, repaint on scene changes (in YUV 4:2:0)."""

from __future__ import annotations

import av
import numpy as np

from hub.conferences.conference import Conference
from hub.conferences.floor import Actor
from hub.media.compositor import (
    EMPTY_BG,
    HOLDER_BORDER,
    LABEL_BG,
    SLATE_BG,
    Compositor,
    raqm_available,
    yuv_colour,
)


def near(px: np.ndarray, rgb: tuple[int, int, int], tol: int = 6) -> bool:
    """4:2:0 round trips move a flat colour by a few levels, never more."""
    return all(abs(int(a) - b) <= tol for a, b in zip(px, rgb, strict=True))


def _scene(layout: str, holder: str | None = None) -> dict:
    c = Conference(id=1, title="t", province="UDN00", participants=["UDN00", "UDN01", "UDN02"], layout=layout)
    if holder:
        c.give_floor(holder, Actor.of_chair("op"))
    return c.render_state({"UDN00": "ศาลากลาง", "UDN01": "เมืองอุดรธานี", "UDN02": "หนองวัวซอ"})


def test_tiles_labels_slates_and_repaint() -> None:
    assert raqm_available()  # Thai vowels and tone marks need libraqm's shaping
    comp = Compositor(640, 360)
    state = _scene("2x2")
    comp.set_scene(state["tiles"], state["names"])
    comp.apply_scene()
    green = np.zeros((180, 320, 3), dtype=np.uint8)
    green[:] = (0, 200, 0)
    yuv = comp.compose({"UDN01": green}).copy()
    assert yuv.shape == (540, 640)  # the encoder's yuv420p layout: Y rows, then U, then V
    out = comp.rgb()
    assert near(out[90, 480], (0, 200, 0))  # UDN01's tile (top right), centre
    strip = out[175, 330:340].reshape(-1, 3)  # bottom rows: the Thai name strip
    assert any(near(px, LABEL_BG) for px in strip)
    assert out[150:180, 320:640].max() >= 240  # white text drawn on it
    # UDN00 has no picture: its slate, never black
    assert near(out[170, 10], SLATE_BG)
    assert near(out[300, 600], EMPTY_BG)  # the 4th cell has no site
    assert yuv[300, 600] == yuv_colour(EMPTY_BG)[0]
    # nothing new: the same canvas content, nothing scaled again
    scaled = comp.scaled
    assert np.array_equal(comp.compose({"UDN01": green}), yuv)
    assert comp.scaled == scaled
    # a floor change repaints with the holder frame
    state = _scene("2x2", holder="UDN01")
    comp.set_scene(state["tiles"], state["names"])
    comp.compose({"UDN01": green})
    assert near(comp.rgb()[1, 330], HOLDER_BORDER, tol=12)
    # the site stops sending: back to its slate
    comp.compose({})
    assert not near(comp.rgb()[90, 480], (0, 200, 0), tol=40)


def test_decoded_frame_scaled_once_into_its_tile() -> None:
    """A site's decoded frame (any size, yuv420p) goes straight into its tile's planes."""
    comp = Compositor(640, 360)
    state = _scene("2x2")
    comp.set_scene(state["tiles"], state["names"])
    rgb = np.zeros((720, 1280, 3), dtype=np.uint8)
    rgb[:, :640] = (200, 30, 30)  # left half red, right half blue
    rgb[:, 640:] = (30, 30, 200)
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
    comp.compose({"UDN01": frame})
    out = comp.rgb()
    assert near(out[60, 400], (200, 30, 30), tol=10)  # UDN01's tile is (320,0)-(640,180)
    assert near(out[60, 560], (30, 30, 200), tol=10)
    assert comp.scaled == 1
    comp.compose({"UDN01": frame})  # the same frame object: not scaled again
    assert comp.scaled == 1
