"""Compose ONE program picture from the sites' latest frames.

The geometry comes from :mod:`hub.conferences.layout` (1280×720 units) and is scaled to
the program size, so tests can run a 320×180 program with the same layouts.
Frames arrive already scaled to their tile (the MCU scales on receipt with
swscale), so composing is array copies plus cached label overlays.

A site without a recent frame shows a slate with its Thai name, never black.
Thai labels are shaped by Pillow's raqm layout engine (libraqm), which places
vowels and tone marks correctly; without raqm, stacked marks collide.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont, features

from hub.media.channel import CANVAS_H, CANVAS_W, CONTENT

log = logging.getLogger(__name__)

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/tlwg/Laksaman.ttf",
    "/usr/share/fonts/opentype/tlwg/Laksaman.otf",
    "/usr/share/fonts/truetype/tlwg/Garuda.ttf",
    "/usr/share/fonts/opentype/tlwg/Garuda.otf",
    "/usr/share/fonts/truetype/thai/Sarabun-Regular.ttf",
)
SLATE_BG = (38, 52, 82)  # dark slate blue: clearly "no picture", never black
EMPTY_BG = (28, 30, 36)
CONTENT_BG = (60, 60, 68)
HOLDER_BORDER = (250, 200, 40)
LABEL_BG = (16, 24, 40)
FRAME_STALE_S = 2.0


def find_thai_font() -> Path:
    for candidate in FONT_CANDIDATES:
        if Path(candidate).is_file():
            return Path(candidate)
    raise FileNotFoundError(
        "no Thai font found; install fonts-thai-tlwg (scripts/apt-packages.txt)"
    )


def raqm_available() -> bool:
    return bool(features.check("raqm"))


@lru_cache(maxsize=64)
def thai_font(size: int) -> ImageFont.FreeTypeFont:
    layout = ImageFont.Layout.RAQM if raqm_available() else ImageFont.Layout.BASIC
    if layout is ImageFont.Layout.BASIC:
        log.warning("Pillow has no raqm: Thai marks may be misplaced (install libraqm0)")
    return ImageFont.truetype(str(find_thai_font()), size, layout_engine=layout)


@dataclass(frozen=True)
class PlacedTile:
    """A tile scaled to the program size."""

    x: int
    y: int
    w: int
    h: int
    site: str | None
    holder: bool


def scale_tiles(tiles: list[dict[str, Any]], width: int, height: int) -> list[PlacedTile]:
    """Tiles from :meth:`hub.conferences.layout.Tile.to_dict` scaled from 1280×720 to the program size."""
    out = []
    for t in tiles:
        x0 = t["x"] * width // CANVAS_W
        y0 = t["y"] * height // CANVAS_H
        x1 = (t["x"] + t["w"]) * width // CANVAS_W
        y1 = (t["y"] + t["h"]) * height // CANVAS_H
        if x1 - x0 >= 2 and y1 - y0 >= 2:
            out.append(PlacedTile(x0, y0, x1 - x0, y1 - y0, t.get("site"), bool(t.get("holder"))))
    return out


def render_text_block(lines: list[str], w: int, h: int, bg: tuple[int, int, int]) -> np.ndarray:
    """A w×h RGB picture with centred lines of (Thai) text."""
    img = Image.new("RGB", (w, h), bg)
    draw = ImageDraw.Draw(img)
    size = max(8, min(h // (2 * len(lines) + 1), w // 10))
    y = (h - size * len(lines) * 1.5) / 2
    for i, line in enumerate(lines):
        font = thai_font(size if i == 0 else max(8, size * 2 // 3))
        box = draw.textbbox((0, 0), line, font=font)
        draw.text(((w - (box[2] - box[0])) / 2 - box[0], y), line, font=font, fill=(235, 235, 235))
        y += size * 1.5
    return np.asarray(img, dtype=np.uint8).copy()


class Compositor:
    """Turns the scene plus the latest frames into one RGB program picture."""

    def __init__(self, width: int = CANVAS_W, height: int = CANVAS_H) -> None:
        if width % 2 or height % 2:
            raise ValueError(f"program size must be even for 4:2:0, not {width}x{height}")
        self.width = width
        self.height = height
        self.tiles: list[PlacedTile] = []
        self.names: dict[str, str] = {}
        self._slates: dict[tuple[str | None, int, int], np.ndarray] = {}
        self._labels: dict[tuple[str, int, int], np.ndarray] = {}
        self.labels_enabled = True
        self._canvas = np.empty((height, width, 3), dtype=np.uint8)
        self._canvas[:] = EMPTY_BG
        # tile index → (picture object, site, holder) last painted there; holding the
        # picture keeps its identity unique while it is compared
        self._painted: dict[int, tuple[np.ndarray | None, str | None, bool]] = {}
        self._pending: tuple[list[PlacedTile], dict[str, str]] | None = None

    def set_scene(self, tiles: list[dict[str, Any]], names: dict[str, str]) -> None:
        """Takes effect at the next :meth:`apply_scene` (the render thread owns the canvas)."""
        self._pending = (scale_tiles(tiles, self.width, self.height), dict(names))

    def apply_scene(self) -> None:
        pending, self._pending = self._pending, None
        if pending is None:
            return
        self.tiles, self.names = pending
        # a new layout: repaint everything (areas no tile covers go back to the background)
        self._canvas[:] = EMPTY_BG
        self._painted = {}

    def tile_size(self, site: str) -> tuple[int, int] | None:
        for t in self.tiles:
            if t.site == site:
                return t.w, t.h
        return None

    def site_sizes(self) -> dict[str, tuple[int, int]]:
        return {t.site: (t.w, t.h) for t in self.tiles if t.site and t.site != CONTENT}

    def name(self, site: str) -> str:
        return self.names.get(site, site)

    def slate(self, site: str | None, w: int, h: int) -> np.ndarray:
        key = (site, w, h)
        cached = self._slates.get(key)
        if cached is None:
            if site is None:
                cached = render_text_block(["ศาลากลาง", "Salaklang"], w, h, EMPTY_BG)
            elif site == CONTENT:
                cached = render_text_block(["เนื้อหา", "Content"], w, h, CONTENT_BG)
            else:
                cached = render_text_block([self.name(site), "ไม่มีภาพ · no video"], w, h, SLATE_BG)
            self._slates[key] = cached
        return cached

    def label(self, text: str, w: int, h: int) -> np.ndarray:
        """An opaque name strip (RGB) for the bottom of a tile.

        Opaque rather than blended: pasting it is one array copy, where alpha
        blending every changed tile of every frame cost the render thread
        several numpy steps, each waiting for the GIL behind the event loop.
        """
        key = (text, w, h)
        cached = self._labels.get(key)
        if cached is None:
            strip_h = max(10, min(h // 6, 40))
            size = max(8, int(strip_h * 0.7))
            img = Image.new("RGB", (w, strip_h), LABEL_BG)
            draw = ImageDraw.Draw(img)
            font = thai_font(size)
            box = draw.textbbox((0, 0), text, font=font)
            draw.text((max(2, strip_h // 4) - box[0], (strip_h - (box[3] - box[1])) / 2 - box[1]),
                      text, font=font, fill=(255, 255, 255))
            cached = np.asarray(img, dtype=np.uint8).copy()
            self._labels[key] = cached
        return cached

    def compose(self, frames: dict[str, np.ndarray]) -> np.ndarray:
        """``frames``: site → RGB array at its tile size (others are ignored).

        The canvas persists between frames: a tile is repainted only when its
        picture (the same array object while the site sends nothing new), its
        slate or its frame changed. Callers must treat the result as read-only.
        """
        self.apply_scene()
        for index, t in enumerate(self.tiles):
            picture = frames.get(t.site) if t.site else None
            if picture is not None and picture.shape[:2] != (t.h, t.w):
                picture = None
            before = self._painted.get(index)
            if before is not None and before[0] is picture and before[1:] == (t.site, t.holder):
                continue
            self._painted[index] = (picture, t.site, t.holder)
            region = self._canvas[t.y : t.y + t.h, t.x : t.x + t.w]
            if picture is None:
                region[:] = self.slate(t.site, t.w, t.h)
            else:
                region[:] = picture
                if self.labels_enabled and t.site and t.site != CONTENT:
                    strip = self.label(self.name(t.site), t.w, t.h)
                    if strip.shape[0] < t.h:
                        region[t.h - strip.shape[0] :] = strip
            if t.holder:
                b = max(2, min(t.w, t.h) // 60)
                region[:b] = HOLDER_BORDER
                region[-b:] = HOLDER_BORDER
                region[:, :b] = HOLDER_BORDER
                region[:, -b:] = HOLDER_BORDER
        return self._canvas
