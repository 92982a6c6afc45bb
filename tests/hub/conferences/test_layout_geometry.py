"""Layout geometry on the 1280×720 canvas and the send profiles it implies."""

from __future__ import annotations

import pytest

from hub.conferences.layout import (
    CANVAS_H,
    CANVAS_W,
    CONTENT,
    LAYOUTS,
    PROFILE_IDLE,
    PROFILE_LARGE,
    PROFILE_MEDIUM,
    PROFILE_QHD,
    PROFILE_SMALL,
    PROFILE_THUMB,
    LayoutError,
    Rect,
    SendProfile,
    Tile,
    arrange,
    send_profiles,
)

SITES = ["UDN00"] + [f"UDN{i:02d}" for i in range(1, 21)]


def _inside_and_disjoint(tiles: list[Tile]) -> None:
    for t in tiles:
        r = t.rect
        assert 0 <= r.x and 0 <= r.y and r.x + r.w <= CANVAS_W and r.y + r.h <= CANVAS_H, t
    for i, a in enumerate(tiles):
        for b in tiles[i + 1:]:
            ra, rb = a.rect, b.rect
            overlap = not (ra.x + ra.w <= rb.x or rb.x + rb.w <= ra.x
                           or ra.y + ra.h <= rb.y or rb.y + rb.h <= ra.y)
            assert not overlap, (a, b)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("count", [1, 4, 8, 21])
def test_tiles_fit_canvas_without_overlap(layout: str, count: int) -> None:
    tiles = arrange(layout, SITES[:count], holder=SITES[count - 1])
    _inside_and_disjoint(tiles)
    shown = [t.site for t in tiles if t.site not in (None, CONTENT)]
    assert len(shown) == len(set(shown))
    assert SITES[count - 1] in shown  # the holder is always visible


def test_speaker() -> None:
    tiles = arrange("speaker", SITES[:5], holder="UDN03")
    assert tiles == [Tile(Rect(0, 0, 1280, 720), "UDN03", "large", True)]
    # no holder: the first participant (the province)
    assert arrange("speaker", SITES[:5])[0].site == "UDN00"


def test_one_plus_n_few_sites() -> None:
    tiles = arrange("1+N", SITES[:5], holder="UDN04")
    assert tiles[0] == Tile(Rect(0, 0, 960, 540), "UDN04", "large", True)
    thumbs = tiles[1:]
    assert [t.site for t in thumbs] == ["UDN00", "UDN01", "UDN02", "UDN03"]
    assert all((t.rect.w, t.rect.h) == (320, 180) for t in thumbs)
    assert thumbs[0].rect == Rect(960, 0, 320, 180)


def test_one_plus_n_whole_province() -> None:
    tiles = arrange("1+N", SITES, holder="UDN17")
    assert tiles[0].site == "UDN17"
    thumbs = tiles[1:]
    assert len(thumbs) == 20  # all others shown, quarter-size
    assert all((t.rect.w, t.rect.h) == (160, 90) for t in thumbs)


@pytest.mark.parametrize(("layout", "rows", "cols"), [("2x2", 2, 2), ("3x3", 3, 3), ("4x5", 4, 5)])
def test_grids(layout: str, rows: int, cols: int) -> None:
    tiles = arrange(layout, SITES, holder=None)
    assert len(tiles) == rows * cols
    assert tiles[0].rect == Rect(0, 0, CANVAS_W // cols, CANVAS_H // rows)
    assert [t.site for t in tiles] == SITES[: rows * cols]
    assert sum(t.rect.w * t.rect.h for t in tiles) == CANVAS_W * CANVAS_H  # no gaps


def test_grid_keeps_order_but_shows_holder() -> None:
    tiles = arrange("2x2", SITES[:6], holder="UDN02")
    assert [t.site for t in tiles] == ["UDN00", "UDN01", "UDN02", "UDN03"]
    assert [t.holder for t in tiles] == [False, False, True, False]
    tiles = arrange("2x2", SITES[:6], holder="UDN05")
    assert [t.site for t in tiles] == ["UDN00", "UDN01", "UDN02", "UDN05"]
    # fewer sites than cells: empty slots (drawn as slates)
    tiles = arrange("3x3", SITES[:2])
    assert [t.site for t in tiles][2:] == [None] * 7


def test_presentation() -> None:
    tiles = arrange("presentation", SITES[:4], holder="UDN02")
    assert tiles[0] == Tile(Rect(0, 0, 960, 540), CONTENT, "content")
    assert tiles[1] == Tile(Rect(960, 0, 320, 180), "UDN02", "thumb", True)


def test_bad_input() -> None:
    with pytest.raises(LayoutError, match="unknown layout '5x5'"):
        arrange("5x5", SITES)
    with pytest.raises(LayoutError, match="duplicates"):
        arrange("2x2", ["UDN01", "UDN01"])
    with pytest.raises(LayoutError):
        Rect(0, 0, 0, 10)


def test_send_profiles() -> None:
    parts = SITES[:6]
    prof = send_profiles(arrange("1+N", parts, holder="UDN01"), parts)
    assert prof["UDN01"] == PROFILE_QHD  # 1+N's large tile is 960×540: no more is decoded
    assert (PROFILE_QHD.width, PROFILE_QHD.height, PROFILE_QHD.fps) == (960, 540, 25)
    assert prof["UDN02"] == PROFILE_THUMB
    assert (PROFILE_THUMB.width, PROFILE_THUMB.height, PROFILE_THUMB.fps) == (320, 180, 15)
    prof = send_profiles(arrange("2x2", parts), parts)
    assert prof["UDN00"] == PROFILE_MEDIUM
    assert prof["UDN05"] == PROFILE_IDLE  # not in any tile
    prof = send_profiles(arrange("speaker", parts, holder="UDN03"), parts)
    assert prof["UDN03"] == PROFILE_LARGE and prof["UDN00"] == PROFILE_IDLE
    assert (PROFILE_LARGE.width, PROFILE_LARGE.height, PROFILE_LARGE.fps) == (1280, 720, 25)
    prof = send_profiles(arrange("4x5", SITES), SITES)
    assert prof["UDN01"] == PROFILE_THUMB
    # a full province in 1+N and in presentation: 160×90 slots, sent at that size
    for layout in ("1+N", "presentation"):
        prof = send_profiles(arrange(layout, SITES, holder="UDN01"), SITES)
        assert {prof[s] for s in SITES[2:]} == {PROFILE_SMALL}, layout
    assert (PROFILE_SMALL.width, PROFILE_SMALL.height, PROFILE_SMALL.fps) == (160, 90, 15)


def test_the_floor_holder_is_sent_at_25_fps_in_any_tile() -> None:
    for layout in ("4x5", "presentation", "3x3"):
        tiles = arrange(layout, SITES, holder="UDN01")
        prof = send_profiles(tiles, SITES)
        holder = next(t for t in tiles if t.site == "UDN01")
        assert holder.holder
        assert prof["UDN01"].fps == 25, layout
        assert prof["UDN01"].width >= holder.rect.w and prof["UDN01"].height >= holder.rect.h, layout
        other = next(t for t in tiles if t.site == "UDN02")
        if other.rect.w <= PROFILE_THUMB.width:
            assert prof["UDN02"].fps == 15, layout  # the others keep their tile's rate
    four = send_profiles(arrange("4x5", SITES, holder="UDN01"), SITES)
    assert four["UDN01"] == SendProfile(320, 180, 25, 333)  # THUMB's 200 kbit/s at 15 fps, scaled


def test_every_tile_gets_a_profile_that_fills_it_without_upscaling() -> None:
    """The smallest profile at least the tile's size, in every layout and province size."""
    from hub.conferences.layout import LADDER

    for layout in LAYOUTS:
        for n in (2, 5, 9, 13, 21):
            parts = SITES[:n]
            tiles = arrange(layout, parts, holder=parts[1])
            prof = send_profiles(tiles, parts)
            for t in tiles:
                if t.site is None or t.site == CONTENT:
                    continue
                p = prof[t.site]
                assert p.width >= t.rect.w and p.height >= t.rect.h, (layout, n, t)
                smaller = [q for q in LADDER if q.width * q.height < p.width * p.height]
                assert not any(q.width >= t.rect.w and q.height >= t.rect.h for q in smaller), (layout, n, t)
