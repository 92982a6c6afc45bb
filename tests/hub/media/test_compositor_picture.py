"""The compositor alone: tiles, Thai name strips, slates, repaint on scene changes."""

from __future__ import annotations

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
)


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
    out = comp.compose({"UDN01": green}).copy()
    assert tuple(out[90, 480]) == (0, 200, 0)  # UDN01's tile (top right), centre
    strip = out[175, 330:340].reshape(-1, 3)  # bottom rows: the Thai name strip
    assert any(tuple(px) == LABEL_BG for px in strip)
    assert out[150:180, 320:640].max() == 255  # white text drawn on it
    # UDN00 has no picture: its slate, never black
    assert tuple(out[170, 10]) == SLATE_BG
    assert tuple(out[300, 600]) == EMPTY_BG  # the 4th cell has no site
    # nothing new: the same canvas content
    assert np.array_equal(comp.compose({"UDN01": green}), out)
    # a floor change repaints with the holder frame
    state = _scene("2x2", holder="UDN01")
    comp.set_scene(state["tiles"], state["names"])
    out = comp.compose({"UDN01": green})
    assert tuple(out[1, 330]) == HOLDER_BORDER
    # the site stops sending: back to its slate
    out = comp.compose({})
    assert tuple(out[90, 480]) != (0, 200, 0)
