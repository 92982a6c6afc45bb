"""The presentation controller, as the conference and media rooms will call it."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub import audit
from hub.content import store
from hub.content.model import Category, Change, ContentError
from hub.content.service import ContentChange, ContentService
from tests.hub.content.conftest import TILE_H, TILE_W
from tests.hub.content.contentkit import ingest_bytes, mp4_file, pdf_bytes


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_show_step_and_end_tell_subscribers_with_a_keyframe_on_each_new_picture(content: ContentService) -> None:
    item = await content.wait_converted((await ingest_bytes(content, pdf_bytes(3), "deck.pdf")).id or 0)
    seen: list[ContentChange] = []
    unsubscribe = content.subscribe(seen.append)

    def broken(change: ContentChange) -> None:
        raise RuntimeError("a subscriber with a bug")

    content.subscribe(broken)  # must not keep the others from hearing
    assert content.current_frame(5) is None

    await content.show(5, item.id or 0, actor="operator:somchai", layout_now="4x5")
    frame = content.current_frame(5)
    assert frame is not None and frame.page == 1 and frame.pages == 3 and frame.category is Category.DOCUMENT
    assert frame.image is not None and frame.image.is_file() and (frame.width, frame.height) == (TILE_W, TILE_H)
    assert frame.rgb().shape == (TILE_H, TILE_W, 3)

    await content.step(5, "next", actor="operator:somchai")
    await content.step(5, "next", actor="operator:somchai")
    last = await content.step(5, "next", actor="operator:somchai")  # already on the last page
    assert last.change is Change.NONE
    await content.step(5, "goto", page=1, actor="operator:somchai")
    end = await content.step(5, "end", actor="operator:somchai")

    assert [c.change for c in seen] == [Change.SHOW, Change.PAGE, Change.PAGE, Change.PAGE, Change.END]
    assert [c.keyframe for c in seen] == [True, True, True, True, False]
    assert seen[0].layout == "presentation" and end.layout == "4x5"
    assert [c.frame.page for c in seen if c.frame] == [1, 2, 3, 1]
    assert seen[-1].frame is None and content.current_frame(5) is None
    versions = [c.version for c in seen]
    assert versions == sorted(set(versions))
    pictures = [c.frame.image for c in seen if c.frame]
    assert pictures[0] == pictures[3] and len(set(pictures)) == 3  # one file per page

    unsubscribe()
    await content.show(5, item.id or 0, actor="operator:somchai", layout_now="speaker")
    assert len(seen) == 5

    actions = [e.action for e in reversed(audit.recent(content.engine, action_prefix="content."))]
    assert actions.count("content.page") == 4 and "content.show" in actions and "content.end" in actions
    shows = store.show_log(content.engine, 5)
    assert [(s.page, s.ended_at is not None) for s in shows] == [(1, True), (2, True), (3, True), (1, True), (1, False)]
    assert all(s.shown_by == "operator:somchai" for s in shows)


async def test_a_clip_plays_pauses_and_seeks_on_the_service_clock(content: ContentService, tmp_path: Path) -> None:
    clock = Clock()
    content.clock = clock
    clip = mp4_file(tmp_path / "c.mp4", seconds=3.0)
    item = await content.wait_converted((await ingest_bytes(content, clip.read_bytes(), "c.mp4")).id or 0)
    seen: list[ContentChange] = []
    content.subscribe(seen.append)
    await content.show(9, item.id or 0, actor="operator:x", layout_now="2x2")
    await content.step(9, "play", actor="operator:x")
    clock.now += 1.25
    frame = content.current_frame(9)
    assert frame is not None and frame.clip is not None and frame.category is Category.CLIP
    assert frame.clip.playing and frame.clip.position_s == pytest.approx(1.25)
    assert frame.clip.path.suffix == ".mp4" and frame.clip.path.is_file()
    await content.step(9, "pause", actor="operator:x")
    clock.now += 10
    paused = content.current_frame(9)
    assert paused is not None and paused.clip is not None and not paused.clip.playing
    assert paused.clip.position_s == pytest.approx(1.25)
    await content.step(9, "seek", position_s=2.5, actor="operator:x")
    assert content.snapshot(9)["showing"]["clip"]["position_s"] == 2.5
    assert [c.change for c in seen] == [Change.SHOW, Change.CLIP, Change.CLIP, Change.CLIP]
    assert [c.keyframe for c in seen] == [True, False, False, False]
    clip_actions = {e.action for e in audit.recent(content.engine, action_prefix="content.clip.")}
    assert clip_actions == {"content.clip.play", "content.clip.pause", "content.clip.seek"}


async def test_a_failed_item_cannot_be_shown_and_the_stage_stays_as_it_was(content: ContentService) -> None:
    good = await content.wait_converted((await ingest_bytes(content, pdf_bytes(2), "ok.pdf")).id or 0)
    bad = await content.wait_converted((await ingest_bytes(content, b"%PDF-1.4 garbage" * 50, "bad.pdf")).id or 0)
    assert bad.status == "failed"
    await content.show(3, good.id or 0, actor="operator:x", layout_now="speaker")
    with pytest.raises(ContentError) as err:
        await content.show(3, bad.id or 0, actor="operator:x", layout_now="presentation")
    assert err.value.code == "not_ready"
    frame = content.current_frame(3)
    assert frame is not None and frame.item_id == good.id
    with pytest.raises(ContentError):
        await content.step(3, "play", actor="operator:x")
    with pytest.raises(ContentError):
        await content.show(3, 99999, actor="operator:x")
