"""Program layouts: where each site sits on the 1280×720 canvas, and what it must send.

Pure geometry. Given the layout name, the participants in display order, the
floor holder and whether content is shown, :func:`arrange` returns the tiles;
:func:`send_profiles` turns tile sizes into what each site is asked to send,
so the hub never decodes a 720p stream to draw a 160×90 thumbnail.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

# The scene's coordinate space is the media worker's contract (hub.media.channel);
# re-exported, since layouts are drawn in these units.
from hub.media.channel import CANVAS_H as CANVAS_H
from hub.media.channel import CANVAS_W as CANVAS_W
from hub.media.channel import CONTENT as CONTENT

LayoutName = Literal["speaker", "1+N", "2x2", "3x3", "4x5", "presentation"]
LAYOUTS: tuple[LayoutName, ...] = ("speaker", "1+N", "2x2", "3x3", "4x5", "presentation")
# rows, columns of the grid layouts
GRIDS: dict[str, tuple[int, int]] = {"2x2": (2, 2), "3x3": (3, 3), "4x5": (4, 5)}

TileRole = Literal["large", "thumb", "grid", "content"]


class LayoutError(ValueError):
    pass


@dataclass(frozen=True)
class Rect:
    x: int
    y: int
    w: int
    h: int

    def __post_init__(self) -> None:
        if self.w <= 0 or self.h <= 0:
            raise LayoutError(f"empty rectangle {self}")

    @property
    def centre(self) -> tuple[int, int]:
        return self.x + self.w // 2, self.y + self.h // 2


@dataclass(frozen=True)
class Tile:
    rect: Rect
    site: str | None  # None: an empty slot; CONTENT: the presentation's content
    role: TileRole
    holder: bool = False  # drawn with the floor holder's frame

    def to_dict(self) -> dict[str, Any]:
        r = self.rect
        return {"x": r.x, "y": r.y, "w": r.w, "h": r.h, "site": self.site,
                "role": self.role, "holder": self.holder}


@dataclass(frozen=True)
class SendProfile:
    """What a site is asked to send: resolution, frame rate and a bitrate ceiling."""

    width: int
    height: int
    fps: int
    kbps: int

    def to_dict(self) -> dict[str, int]:
        return {"width": self.width, "height": self.height, "fps": self.fps, "kbps": self.kbps}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> SendProfile:
        return cls(int(raw["width"]), int(raw["height"]), int(raw["fps"]), int(raw["kbps"]))


PROFILE_LARGE = SendProfile(1280, 720, 25, 1500)
PROFILE_QHD = SendProfile(960, 540, 25, 1000)  # 1+N's large tile
PROFILE_MEDIUM = SendProfile(640, 360, 25, 600)
PROFILE_THUMB = SendProfile(320, 180, 15, 200)
PROFILE_SMALL = SendProfile(160, 90, 15, 80)  # a full province's 1+N and presentation thumbnails
# A site that is in the conference but in no tile still sends a trickle, so
# that it can appear at once when the layout changes.
PROFILE_IDLE = SendProfile(320, 180, 5, 80)
# Smallest first. Each is 16:9, as the tiles are.
LADDER: tuple[SendProfile, ...] = (PROFILE_SMALL, PROFILE_THUMB, PROFILE_MEDIUM, PROFILE_QHD, PROFILE_LARGE)


def profile_for(rect: Rect) -> SendProfile:
    """The smallest standard profile that fills the tile without upscaling.

    A tile the size of a profile gets that picture as it is: the hub decodes no more pixels
    than it shows and scales nothing (a 720p stream in 1+N's 960×540 tile cost the media
    worker 0.44 ms to decode and 0.26 ms to scale, 25 times a second; a 320×180 thumbnail in
    a 160×90 slot 0.09 + 0.06 ms, against 0.02 ms at its own size: BENCHMARKS.md, issue 17).
    """
    for profile in LADDER:
        if rect.w <= profile.width and rect.h <= profile.height:
            return profile
    return PROFILE_LARGE


def _grid(region: Rect, rows: int, cols: int) -> list[Rect]:
    """Split a region into rows×cols cells, row by row; integer edges, no gaps."""
    cells = []
    for r in range(rows):
        y0 = region.y + r * region.h // rows
        y1 = region.y + (r + 1) * region.h // rows
        for c in range(cols):
            x0 = region.x + c * region.w // cols
            x1 = region.x + (c + 1) * region.w // cols
            cells.append(Rect(x0, y0, x1 - x0, y1 - y0))
    return cells


def _cells(region: Rect, w: int, h: int) -> list[Rect]:
    return _grid(region, region.h // h, region.w // w)


def _focus_order(participants: Sequence[str], holder: str | None) -> list[str]:
    """Holder first (if present), then the others in display order."""
    if holder is not None and holder in participants:
        return [holder, *[p for p in participants if p != holder]]
    return list(participants)


def _thumb_slots(count: int, large: Rect) -> list[Rect]:
    """Thumbnails right of and below a large tile anchored top-left."""
    right = Rect(large.w, 0, CANVAS_W - large.w, large.h) if large.w < CANVAS_W else None
    bottom = Rect(0, large.h, CANVAS_W, CANVAS_H - large.h) if large.h < CANVAS_H else None
    # Big thumbnails when few sites; quarter-size ones when the province is full.
    for tw, th in ((320, 180), (160, 90)):
        slots: list[Rect] = []
        if right is not None:
            slots += _cells(right, tw, th)
        if bottom is not None:
            slots += _cells(bottom, tw, th)
        if len(slots) >= count:
            return slots
    return slots


def arrange(
    layout: str,
    participants: Sequence[str],
    holder: str | None = None,
) -> list[Tile]:
    """Tiles for ``layout``. Sites that do not fit are left out (the holder never is).

    ``participants`` is the display order (the province first, then districts).
    Without a holder, the first participant takes the large tile.
    """
    if layout not in LAYOUTS:
        raise LayoutError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
    if len(set(participants)) != len(participants):
        raise LayoutError("participants contain duplicates")
    order = _focus_order(participants, holder)
    full = Rect(0, 0, CANVAS_W, CANVAS_H)

    if layout == "speaker":
        return [Tile(full, order[0] if order else None, "large", holder is not None)]

    if layout == "1+N":
        large = Rect(0, 0, 960, 540)
        tiles = [Tile(large, order[0] if order else None, "large", holder is not None)]
        others = order[1:]
        for slot, site in zip(_thumb_slots(len(others), large), others, strict=False):
            tiles.append(Tile(slot, site, "thumb"))
        return tiles

    if layout == "presentation":
        content = Rect(0, 0, 960, 540)
        speaker = Rect(960, 0, 320, 180)
        tiles = [Tile(content, CONTENT, "content"),
                 Tile(speaker, order[0] if order else None, "thumb", holder is not None)]
        rest = order[1:]
        right_rest = Rect(960, 180, 320, 360)
        bottom = Rect(0, 540, CANVAS_W, 180)
        slots = _cells(right_rest, 320, 180) + _cells(bottom, 320, 180)
        if len(rest) > len(slots):
            slots = _cells(right_rest, 160, 90) + _cells(bottom, 160, 90)
        for slot, site in zip(slots, rest, strict=False):
            tiles.append(Tile(slot, site, "thumb"))
        return tiles

    rows, cols = GRIDS[layout]
    cells = _grid(full, rows, cols)
    # Grids keep the display order stable (sites do not jump around when the
    # floor moves); the holder is swapped into the last cell only if it would
    # otherwise be left out.
    shown = list(participants[: len(cells)])
    if holder is not None and holder in participants and holder not in shown:
        shown[-1] = holder
    tiles = []
    for i, cell in enumerate(cells):
        occupant = shown[i] if i < len(shown) else None
        tiles.append(Tile(cell, occupant, "grid", occupant is not None and occupant == holder))
    return tiles


def site_tiles(tiles: Sequence[Tile]) -> dict[str, Tile]:
    return {t.site: t for t in tiles if t.site is not None and t.site != CONTENT}


HOLDER_FPS = 25  # the program's own rate at the default settings (media_fps)


def holder_profile(profile: SendProfile) -> SendProfile:
    """The floor holder at 25 fps whatever its tile: the one who speaks.

    A 4x5 cell or the presentation's speaker tile would ask for 15 fps; lips at 15 fps lag the
    sound, and a picture at 15 fps waits up to a program frame (40 ms) more for its turn
    (glass-to-glass p95 in those layouts, BENCHMARKS.md issue 17). The bitrate grows with the
    frame rate.
    """
    if profile.fps >= HOLDER_FPS:
        return profile
    return SendProfile(profile.width, profile.height, HOLDER_FPS, profile.kbps * HOLDER_FPS // profile.fps)


def send_profiles(tiles: Sequence[Tile], participants: Sequence[str]) -> dict[str, SendProfile]:
    """What every participant should send for this arrangement."""
    placed = site_tiles(tiles)
    out = {}
    for site in participants:
        tile = placed.get(site)
        if tile is None:
            out[site] = PROFILE_IDLE
        else:
            profile = profile_for(tile.rect)
            out[site] = holder_profile(profile) if tile.holder else profile
    return out
