"""Compose ONE program picture from the sites' latest frames, in YUV 4:2:0.

The geometry comes from :mod:`hub.conferences.layout` (1280×720 units) and is scaled to
the program size, so tests can run a 320×180 program with the same layouts.

The canvas is a persistent yuv420p buffer (the encoder's own format): a tile is
repainted only when its picture changes, by scaling the site's decoded frame once
with swscale straight to the tile's size in yuv420p and copying its three planes
into the canvas slices. Slates and name strips are rendered once (Pillow, RGB),
converted to YUV once and cached. So no frame is ever converted RGB→YUV as a
whole canvas: the profile of issue 17 had that conversion plus per-site RGB
scaling at ~97 ms of the render thread's time per frame.

Tiles are placed on even pixels (4:2:0 chroma covers 2×2 luma pixels).
A site without a recent frame shows a slate with its Thai name, never black.
Thai labels are shaped by Pillow's raqm layout engine (libraqm), which places
vowels and tone marks correctly; without raqm, stacked marks collide.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import av
import numpy as np
from av.video.reformatter import VideoReformatter
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
        # even edges: a tile's chroma then covers whole 2×2 blocks of its own pixels
        x0 = t["x"] * width // CANVAS_W & ~1
        y0 = t["y"] * height // CANVAS_H & ~1
        x1 = (t["x"] + t["w"]) * width // CANVAS_W & ~1
        y1 = (t["y"] + t["h"]) * height // CANVAS_H & ~1
        if x1 - x0 >= 2 and y1 - y0 >= 2:
            out.append(PlacedTile(x0, y0, x1 - x0, y1 - y0, t.get("site"), bool(t.get("holder"))))
    return out


# A picture in yuv420p as three planes: Y (h×w), U and V (h/2×w/2).
Planes = tuple[np.ndarray, np.ndarray, np.ndarray]


def split_planes(yuv: np.ndarray, w: int, h: int) -> Planes:
    """Views of the Y, U, V planes of a contiguous (h*3/2)×w yuv420p array (PyAV's layout)."""
    flat = yuv.reshape(-1)  # a view: the array is contiguous
    n, q = w * h, w * h // 4
    return (flat[:n].reshape(h, w), flat[n : n + q].reshape(h // 2, w // 2),
            flat[n + q : n + 2 * q].reshape(h // 2, w // 2))


def frame_planes(frame: av.VideoFrame, w: int, h: int, reformatter: VideoReformatter) -> Planes:
    """A decoded frame scaled once by swscale straight to w×h yuv420p (no RGB step).

    Pass the tile's own ``reformatter``: ``VideoFrame.reformat`` makes a new one per frame,
    and so a new SwsContext (filter tables) per frame: 2.2 ms for a 320×180 thumbnail
    against 0.19 ms with the context kept (PyAV 18; it was most of the render thread's
    time at 20 districts, BENCHMARKS.md issue 17).
    """
    scaled = reformatter.reformat(frame, width=w, height=h, format="yuv420p", interpolation="FAST_BILINEAR")
    # Views of the scaled frame's own planes (no copy: each numpy or PyAV call that
    # releases the GIL makes the render thread queue again behind the event loop)
    y, u, v = (np.frombuffer(memoryview(plane), np.uint8, count=plane.line_size * ph).reshape(ph, plane.line_size)[:, :pw]
               for plane, pw, ph in zip(scaled.planes, (w, w // 2, w // 2), (h, h // 2, h // 2), strict=True))
    return y, u, v


def rgb_planes(rgb: np.ndarray) -> Planes:
    """An RGB picture (even size) as yuv420p planes, converted by swscale (BT.601, as the encoder's input)."""
    h, w = rgb.shape[:2]
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
    return split_planes(frame.reformat(format="yuv420p").to_ndarray(), w, h)


@lru_cache(maxsize=64)
def yuv_colour(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    """The (Y, U, V) of a flat RGB colour, by the same conversion as :func:`rgb_planes`."""
    block = np.empty((2, 2, 3), dtype=np.uint8)
    block[:] = rgb
    y, u, v = rgb_planes(block)
    return int(y[0, 0]), int(u[0, 0]), int(v[0, 0])


def yuv_to_rgb(yuv: np.ndarray, w: int, h: int) -> np.ndarray:
    """A (h*3/2)×w yuv420p array as RGB (for previews and tests; never on the frame path)."""
    return av.VideoFrame.from_ndarray(np.ascontiguousarray(yuv), format="yuv420p").to_ndarray(format="rgb24")


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


class Overlay(Protocol):
    """Something laid over the composed tiles (the poll results card, hub.media.card)."""

    def before(self) -> bool: ...  # True: it was taken down, repaint the tiles under it

    def draw(self, canvas: Planes) -> None: ...


class Compositor:
    """Turns the scene plus the latest frames into one yuv420p program picture.

    A picture for a tile is either an ``av.VideoFrame`` (a site's decoded frame,
    any size: scaled here) or an RGB array at the tile's size (content pages,
    tests). The same object is passed while nothing new arrived, so it is
    scaled and painted once.
    """

    def __init__(self, width: int = CANVAS_W, height: int = CANVAS_H) -> None:
        if width % 2 or height % 2:
            raise ValueError(f"program size must be even for 4:2:0, not {width}x{height}")
        self.width = width
        self.height = height
        self.tiles: list[PlacedTile] = []
        self.names: dict[str, str] = {}
        self._slates: dict[tuple[str | None, int, int], Planes] = {}
        self._labels: dict[tuple[str, int, int], Planes] = {}
        self.labels_enabled = True
        # the persistent canvas, laid out as PyAV's yuv420p ndarray: Y rows, then U, then V
        self._yuv = np.empty((height * 3 // 2, width), dtype=np.uint8)
        self._planes = split_planes(self._yuv, width, height)
        self._fill_background()
        # tile index → (picture object, site, holder) last painted there; holding the
        # picture keeps its identity unique while it is compared
        self._painted: dict[int, tuple[object | None, str | None, bool]] = {}
        # tile index → what was painted around its picture (site, holder, picture or slate,
        # strip height, name): while unchanged only the picture's inside is repainted
        self._decor: dict[int, tuple[object, ...]] = {}
        self._pending: tuple[list[PlacedTile], dict[str, str]] | None = None
        # tile index → its scaler, kept so swscale's context is built once per stream and size
        self._scalers: dict[int, VideoReformatter] = {}
        self.scaled = 0  # pictures scaled into the canvas (one per new frame of a shown site)
        self.overlays: list[Overlay] = []  # drawn over the tiles every frame (hub.media.card, issue 16)

    def _fill_background(self) -> None:
        for plane, value in zip(self._planes, yuv_colour(EMPTY_BG), strict=True):
            plane[:] = value

    def set_scene(self, tiles: list[dict[str, Any]], names: dict[str, str]) -> None:
        """Takes effect at the next :meth:`apply_scene` (the render thread owns the canvas)."""
        self._pending = (scale_tiles(tiles, self.width, self.height), dict(names))

    def apply_scene(self) -> None:
        pending, self._pending = self._pending, None
        if pending is None:
            return
        self.tiles, self.names = pending
        # a new layout: repaint everything (areas no tile covers go back to the background)
        self._fill_background()
        self._painted = {}
        self._decor = {}
        self._scalers = {}

    def tile_size(self, site: str) -> tuple[int, int] | None:
        for t in self.tiles:
            if t.site == site:
                return t.w, t.h
        return None

    def site_sizes(self) -> dict[str, tuple[int, int]]:
        return {t.site: (t.w, t.h) for t in self.tiles if t.site and t.site != CONTENT}

    def name(self, site: str) -> str:
        return self.names.get(site, site)

    def slate(self, site: str | None, w: int, h: int) -> Planes:
        key = (site, w, h)
        cached = self._slates.get(key)
        if cached is None:
            if site is None:
                rgb = render_text_block(["ศาลากลาง", "Salaklang"], w, h, EMPTY_BG)
            elif site == CONTENT:
                rgb = render_text_block(["เนื้อหา", "Content"], w, h, CONTENT_BG)
            else:
                rgb = render_text_block([self.name(site), "ไม่มีภาพ · no video"], w, h, SLATE_BG)
            cached = self._slates[key] = rgb_planes(rgb)
        return cached

    def label(self, text: str, w: int, h: int) -> Planes:
        """An opaque name strip (even height) for the bottom of a tile, pre-rendered in YUV.

        Opaque rather than blended: pasting it is three array copies, where alpha
        blending every changed tile of every frame cost the render thread
        several numpy steps, each waiting for the GIL behind the event loop.
        """
        key = (text, w, h)
        cached = self._labels.get(key)
        if cached is None:
            strip_h = max(10, min(h // 6, 40)) & ~1
            size = max(8, int(strip_h * 0.7))
            img = Image.new("RGB", (w, strip_h), LABEL_BG)
            draw = ImageDraw.Draw(img)
            font = thai_font(size)
            box = draw.textbbox((0, 0), text, font=font)
            draw.text((max(2, strip_h // 4) - box[0], (strip_h - (box[3] - box[1])) / 2 - box[1]),
                      text, font=font, fill=(255, 255, 255))
            cached = self._labels[key] = rgb_planes(np.asarray(img, dtype=np.uint8))
        return cached

    def _paste(self, planes: Planes, x: int, y: int) -> None:
        """Copy planes into the canvas at even (x, y)."""
        h, w = planes[0].shape
        cy, cx = y // 2, x // 2
        self._planes[0][y : y + h, x : x + w] = planes[0]
        self._planes[1][cy : cy + h // 2, cx : cx + w // 2] = planes[1]
        self._planes[2][cy : cy + h // 2, cx : cx + w // 2] = planes[2]

    def _paste_inner(self, planes: Planes, x: int, y: int, side: int, bottom: int) -> None:
        """Copy planes without their ``side`` margin (top, left, right) and ``bottom`` rows; all even."""
        h, w = planes[0].shape
        self._planes[0][y + side : y + h - bottom, x + side : x + w - side] = \
            planes[0][side : h - bottom, side : w - side]
        s2, b2, cy, cx, h2, w2 = side // 2, bottom // 2, y // 2, x // 2, h // 2, w // 2
        for plane, src in ((self._planes[1], planes[1]), (self._planes[2], planes[2])):
            plane[cy + s2 : cy + h2 - b2, cx + s2 : cx + w2 - s2] = src[s2 : h2 - b2, s2 : w2 - s2]

    def _fill(self, colour: tuple[int, int, int], x: int, y: int, w: int, h: int) -> None:
        """A flat RGB colour over an even-aligned rectangle."""
        yy, uu, vv = yuv_colour(colour)
        self._planes[0][y : y + h, x : x + w] = yy
        self._planes[1][y // 2 : (y + h) // 2, x // 2 : (x + w) // 2] = uu
        self._planes[2][y // 2 : (y + h) // 2, x // 2 : (x + w) // 2] = vv

    def _planes_of(self, picture: object, w: int, h: int, index: int) -> Planes | None:
        if isinstance(picture, av.VideoFrame):
            self.scaled += 1
            scaler = self._scalers.get(index)
            if scaler is None:
                scaler = self._scalers[index] = VideoReformatter()
            return frame_planes(picture, w, h, scaler)
        if isinstance(picture, np.ndarray) and picture.shape[:2] == (h, w) and picture.ndim == 3:
            self.scaled += 1
            return rgb_planes(picture)
        return None

    def compose(self, frames: Mapping[str, av.VideoFrame | np.ndarray]) -> np.ndarray:
        """``frames``: site → its latest picture (see the class). Returns the yuv420p canvas.

        The canvas persists between frames: a tile is repainted only when its
        picture (the same object while the site sends nothing new), its
        slate or its frame changed. Callers must treat the result as read-only.
        """
        self.apply_scene()
        if any([o.before() for o in self.overlays]):  # a card came down: repaint what it covered
            self._fill_background()
            self._painted = {}
            self._decor = {}
        for index, t in enumerate(self.tiles):
            picture = frames.get(t.site) if t.site else None
            before = self._painted.get(index)
            if before is not None and before[0] is picture and before[1:] == (t.site, t.holder):
                continue
            self._painted[index] = (picture, t.site, t.holder)
            planes = self._planes_of(picture, t.w, t.h, index) if picture is not None else None
            b = max(2, min(t.w, t.h) // 60) + 1 & ~1 if t.holder else 0
            strip = (self.label(self.name(t.site), t.w, t.h)
                     if planes is not None and self.labels_enabled and t.site and t.site != CONTENT else None)
            strip_h = strip[0].shape[0] if strip is not None and strip[0].shape[0] < t.h else 0
            decor = (t.site, t.holder, planes is not None, strip_h, self.name(t.site) if t.site else None)
            if planes is not None and self._decor.get(index) == decor:
                # Only the picture changed: the name strip and the border (opaque, painted
                # once) stay; paste the picture's inside, 3 copies instead of 3 + 3 + 12.
                bottom = max(strip_h, b)
                self._paste_inner(planes, t.x, t.y, b, bottom)
                continue
            self._decor[index] = decor
            if planes is None:
                self._paste(self.slate(t.site, t.w, t.h), t.x, t.y)
            else:
                self._paste(planes, t.x, t.y)
                if strip is not None and strip_h:
                    self._paste(strip, t.x, t.y + t.h - strip_h)
            if t.holder:
                self._fill(HOLDER_BORDER, t.x, t.y, t.w, b)
                self._fill(HOLDER_BORDER, t.x, t.y + t.h - b, t.w, b)
                self._fill(HOLDER_BORDER, t.x, t.y, b, t.h)
                self._fill(HOLDER_BORDER, t.x + t.w - b, t.y, b, t.h)
        for overlay in self.overlays:
            overlay.draw(self._planes)
        return self._yuv

    def rgb(self) -> np.ndarray:
        """The canvas as RGB (previews and tests)."""
        return yuv_to_rgb(self._yuv, self.width, self.height)
