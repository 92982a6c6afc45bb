"""Conversion with the real tools: LibreOffice, MuPDF (in its child renderer), Pillow, FFmpeg."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from hub import audit
from hub.content import store
from hub.content.model import ContentError, fit
from hub.content.service import ContentService, Converter, run_limited
from hub.content.store import ContentItem
from hub.events import Subscription
from tests.hub.content.conftest import TILE_H, TILE_W
from tests.hub.content.contentkit import (
    SLIDE_BLUE,
    alive,
    close,
    corrupt_pdf_bytes,
    corrupt_pptx_bytes,
    eventually,
    files_under,
    ingest_bytes,
    jpeg_bytes,
    mean_rgb,
    mp4_file,
    pdf_bytes,
    png_bytes,
    pptx_bytes,
    truncated_pptx_bytes,
)


def _page(content: ContentService, item: ContentItem, n: int = 1) -> Image.Image:
    return Image.open(content.page_path(item, n))


def _drain(sub: Subscription) -> list[dict[str, object]]:
    """Every event the bus queued for a subscriber (what a control-room page receives)."""
    seen = []
    while not sub.queue.empty():
        frame = json.loads(sub.queue.get_nowait())
        seen.append({"kind": frame["kind"], **frame["data"]})
    return seen


def _left_behind(content: ContentService) -> list[Path]:
    return [p for sub in ("tmp", "work", "originals", "pages") for p in files_under(content.root / sub)]


@pytest.mark.slow
async def test_a_pptx_with_thai_text_is_converted_by_libreoffice_and_keeps_its_colour(content: ContentService) -> None:
    sub = content.events.subscribe()
    item = await ingest_bytes(content, pptx_bytes(), "สรุปสงกรานต์.pptx")
    assert item.status == "converting"
    done = await content.wait_converted(item.id or 0)
    assert done.status == "ready", done.error
    assert (done.page_count, done.page_width, done.page_height) == (1, TILE_W, TILE_H)
    page = _page(content, done)
    assert page.size == (TILE_W, TILE_H)
    # The shape fills the 16:9 slide, so it fills the 16:9 tile; away from the title text it is the colour.
    assert close(mean_rgb(page, (TILE_W // 4, TILE_H // 2, 3 * TILE_W // 4, TILE_H - 10)), SLIDE_BLUE)
    # The Thai title is drawn (white glyphs over the blue in the title band), not left out.
    title = np.asarray(page.convert("RGB").crop((10, 5, TILE_W - 10, TILE_H // 5)))
    assert (title.min(axis=2) > 200).sum() > 100, "no white title text on the slide"
    events = _drain(sub)
    stages = [e.get("stage") for e in events if e["kind"] == "content.progress"]
    assert stages[0] == "queued" and "converting" in stages and "rendering" in stages and stages[-1] == "ready"
    assert any(e["kind"] == "content.ready" and e["item_id"] == done.id for e in events)
    upload = audit.recent(content.engine, action_prefix="content.upload")[0]
    assert upload.ok and upload.detail["sha256"] == done.sha256 and upload.detail["kind"] == "pptx"


async def test_pdf_pages_are_rendered_at_the_requested_tile_size(content: ContentService) -> None:
    item = await ingest_bytes(content, pdf_bytes(3, size=(842, 595)), "report.pdf")
    done = await content.wait_converted(item.id or 0)
    assert done.status == "ready" and done.page_count == 3
    inner_w, inner_h = fit(842, 595, TILE_W, TILE_H)
    assert inner_h == TILE_H and inner_w < TILE_W  # A4 landscape is narrower than 16:9
    for n in (1, 2, 3):
        page = _page(content, done, n)
        assert page.size == (TILE_W, TILE_H)
        grey = round(255 * (0.2 + 0.2 * (n - 1)))
        cx, cy = TILE_W // 2, TILE_H - 20
        assert close(mean_rgb(page, (cx - 20, cy - 10, cx + 20, cy + 10)), (grey, grey, grey), tol=3)
        # letterbox bars left and right are black
        assert close(mean_rgb(page, (0, 0, (TILE_W - inner_w) // 2 - 1, TILE_H)), (0, 0, 0), tol=1)


async def test_the_same_bytes_are_converted_once(content: ContentService) -> None:
    data = pdf_bytes(2)
    first = await content.wait_converted((await ingest_bytes(content, data, "a.pdf")).id or 0)
    again = await ingest_bytes(content, data, "same-file-other-name.pdf", conference_id=2)
    assert again.status == "ready" and again.pages == first.pages and again.sha256 == first.sha256
    assert len(files_under(content.root / "originals")) == 1


async def test_a_corrupt_pdf_fails_clearly_and_leaves_nothing(content: ContentService) -> None:
    sub = content.events.subscribe()
    item = await ingest_bytes(content, corrupt_pdf_bytes(), "broken.pdf")
    done = await content.wait_converted(item.id or 0)
    events = _drain(sub)
    assert done.status == "failed" and done.error_code == "corrupt_document"
    assert "ไฟล์เสียหาย" in done.error and "corrupt" in done.error
    assert _left_behind(content) == []
    failed = [e for e in events if e["kind"] == "content.failed"]
    assert failed and failed[0]["code"] == "corrupt_document" and "เสียหาย" in str(failed[0]["th"])


@pytest.mark.slow
async def test_a_corrupt_pptx_fails_clearly_and_leaves_nothing(content: ContentService) -> None:
    item = await ingest_bytes(content, corrupt_pptx_bytes(), "broken.pptx")
    done = await content.wait_converted(item.id or 0)
    assert done.status == "failed" and done.error_code == "corrupt_document", done.error
    assert "LibreOffice" in done.error
    assert _left_behind(content) == []


async def test_a_truncated_pptx_is_refused_at_upload(content: ContentService) -> None:
    with pytest.raises(ContentError) as err:
        await ingest_bytes(content, truncated_pptx_bytes(), "half.pptx")
    assert err.value.code == "corrupt_document"
    assert _left_behind(content) == []
    refused = audit.recent(content.engine, action_prefix="content.upload")[0]
    assert not refused.ok and refused.detail["code"] == "corrupt_document"


@pytest.mark.parametrize(("data", "name"), [(png_bytes(), "slides.pdf"), (pdf_bytes(1), "photo.jpg"),
                                            (jpeg_bytes(), "deck.pptx"), (b"\x00" * 64, "clip.mp4")])
async def test_content_that_does_not_match_its_extension_is_refused(content: ContentService, data: bytes, name: str) -> None:
    with pytest.raises(ContentError) as err:
        await ingest_bytes(content, data, name)
    assert err.value.code == "magic_mismatch"
    assert _left_behind(content) == []


async def test_the_upload_stops_reading_at_the_limit(content: ContentService) -> None:
    pulled = 0
    limit = content.settings.content_max_upload_bytes

    async def endless() -> AsyncIterator[bytes]:
        nonlocal pulled
        while True:
            pulled += 64 * 1024
            yield b"%PDF-" + b"x" * (64 * 1024 - 5)

    upload = content.start_upload()
    with pytest.raises(ContentError) as err:
        await upload.receive(endless())
    upload.discard()
    assert err.value.code == "too_large"
    assert limit < pulled <= limit + 64 * 1024  # the chunk that crossed the limit is the last one read
    assert upload.size <= limit and not upload.path.exists()


def _fake_soffice(tmp_path: Path) -> Path:
    """A converter that hangs like a stuck LibreOffice: it forks a worker and both sleep."""
    script = tmp_path / "soffice-hangs"
    script.write_text(
        "#!/bin/sh\n"
        f"echo $$ > {tmp_path}/launcher.pid\n"
        f"sleep 300 & echo $! > {tmp_path}/worker.pid\n"
        "wait\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


async def test_a_converter_that_hangs_is_killed_at_the_time_limit(content: ContentService, tmp_path: Path) -> None:
    content.converter = Converter(str(_fake_soffice(tmp_path)))
    content.settings.content_convert_timeout_s = 1.0
    started = time.monotonic()
    item = await ingest_bytes(content, pptx_bytes(), "hangs.pptx")
    done = await content.wait_converted(item.id or 0)
    assert time.monotonic() - started < 10
    assert done.status == "failed" and done.error_code == "conversion_timeout"
    assert "นานเกินกำหนด" in done.error and "too long" in done.error
    for name in ("launcher.pid", "worker.pid"):
        pid = int((tmp_path / name).read_text())
        def gone(pid: int = pid) -> bool:
            return not alive(pid)

        assert await eventually(gone), f"{name} {pid} still runs after the time limit"
    assert _left_behind(content) == []


@pytest.mark.slow
async def test_real_libreoffice_past_the_limit_is_killed_with_its_worker(content: ContentService, tmp_path: Path) -> None:
    # soffice (oosplash) forks soffice.bin; a limit shorter than its start-up kills both.
    work = tmp_path / "lo"
    work.mkdir()
    src = work / "deck.pptx"
    src.write_bytes(pptx_bytes())
    with pytest.raises(ContentError) as err:
        await Converter("soffice").office_to_pdf(src, work, time.monotonic() + 0.4)
    assert err.value.code == "conversion_timeout"
    profile = str(work / "profile")

    def survivors() -> list[Path]:
        return [p for p in Path("/proc").iterdir()
                if p.name.isdigit() and alive(int(p.name)) and profile in _cmdline(p)]

    assert await eventually(lambda: not survivors()), f"LibreOffice processes survived: {survivors()}"


def _cmdline(proc: Path) -> str:
    try:
        return (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


async def test_run_limited_reports_lines_and_exit_codes(tmp_path: Path) -> None:
    lines: list[str] = []
    code, err = await run_limited(["sh", "-c", "echo one; echo two; echo oops >&2; exit 3"],
                                  time.monotonic() + 10, lines.append)
    assert (code, lines, err.strip()) == (3, ["one", "two"], "oops")


async def test_a_phone_photo_is_turned_upright_and_scaled_into_the_tile(content: ContentService) -> None:
    # Stored 400×200 with the white stripe on the left; EXIF 6 says "turn 90° clockwise to view".
    item = await ingest_bytes(content, jpeg_bytes(400, 200, orientation=6), "phone.jpg")
    done = await content.wait_converted(item.id or 0)
    assert done.status == "ready" and done.page_count == 1
    page = _page(content, done)
    assert page.size == (TILE_W, TILE_H)
    w, h = fit(200, 400, TILE_W, TILE_H)  # upright it is portrait
    x0 = (TILE_W - w) // 2
    assert close(mean_rgb(page, (x0 + 5, 3, x0 + w - 5, h // 4 - 5)), (255, 255, 255), tol=20)  # stripe on top
    assert close(mean_rgb(page, (x0 + 5, h // 2, x0 + w - 5, h - 5)), (200, 40, 40), tol=20)
    assert close(mean_rgb(page, (0, 0, x0 - 2, TILE_H)), (0, 0, 0), tol=2)


async def test_a_png_photo_is_shown(content: ContentService) -> None:
    done = await content.wait_converted((await ingest_bytes(content, png_bytes(64, 36), "map.png")).id or 0)
    assert done.status == "ready"
    assert close(mean_rgb(_page(content, done), (100, 50, TILE_W - 100, TILE_H - 50)), (0, 160, 0), tol=6)


async def test_a_clip_is_probed_and_gets_a_poster(content: ContentService, tmp_path: Path) -> None:
    clip = mp4_file(tmp_path / "clip.mp4", seconds=2.0)
    done = await content.wait_converted((await ingest_bytes(content, clip.read_bytes(), "ข่าว.mp4")).id or 0)
    assert done.status == "ready", done.error
    assert done.duration_s == pytest.approx(2.0, abs=0.2)
    assert done.media["video_codec"] == "h264" and done.media["audio_codec"] == "aac"
    assert done.media["h264_needs_annexb"] is True
    assert _page(content, done).size == (TILE_W, TILE_H)


def _probe(path: Path) -> dict[str, dict[str, object]]:
    out = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", str(path)],
                         check=True, capture_output=True, timeout=30).stdout
    return {str(s["codec_type"]): s for s in json.loads(out)["streams"]}


def _phone_clip(path: Path) -> Path:
    """A phone's clip: 4:3, 30 fps, HEVC, stereo 44.1 kHz."""
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=640x480:rate=30:duration=3",
         "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=44100:duration=3", "-c:v", "libx265",
         "-preset", "ultrafast", "-x265-params", "log-level=error", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-ac", "2", "-shortest", str(path)], check=True, timeout=60)
    return path


def _keyframe_times(path: Path) -> list[str]:
    return subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v", "-skip_frame", "nokey", "-show_entries",
         "frame=pts_time", "-of", "csv=p=0", str(path)], check=True, capture_output=True, timeout=30,
        text=True).stdout.split()


async def test_a_phone_clip_is_transcoded_once_to_what_the_worker_plays(content: ContentService, tmp_path: Path) -> None:
    # The worker must get H.264 at the tile's size, 25 fps, letterboxed, with its sound as
    # mono 48 kHz, and a keyframe every second for short seeks.
    phone = await asyncio.to_thread(_phone_clip, tmp_path / "phone.mp4")
    sub = content.events.subscribe()
    done = await content.wait_converted((await ingest_bytes(content, phone.read_bytes(), "มือถือ.mp4")).id or 0)
    assert done.status == "ready", done.error
    assert done.media["video_codec"] == "hevc"  # what was uploaded stays on record
    playout = content.clip_path(done)
    assert playout.is_file() and playout != content.root / done.original_path
    streams = await asyncio.to_thread(_probe, playout)
    video, audio = streams["video"], streams["audio"]
    assert (video["codec_name"], video["width"], video["height"]) == ("h264", TILE_W, TILE_H)
    assert video["avg_frame_rate"] == "25/1"
    assert (audio["codec_name"], audio["channels"], audio["sample_rate"]) == ("aac", 1, "48000")
    assert len(await asyncio.to_thread(_keyframe_times, playout)) >= 3, "no keyframe every second"
    # 4:3 in a 16:9 tile: black bars left and right, the picture in between
    with av.open(str(playout)) as container:
        first = next(container.decode(video=0)).to_ndarray(format="rgb24")
    assert first[:, :TILE_W // 10].mean() < 20 and first[:, TILE_W // 3: 2 * TILE_W // 3].mean() > 40
    stages = [e.get("stage") for e in _drain(sub) if e["kind"] == "content.progress"]
    assert "transcoding" in stages


async def test_a_corrupt_clip_fails_clearly(content: ContentService) -> None:
    data = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41" + os.urandom(4000)
    done = await content.wait_converted((await ingest_bytes(content, data, "bad.mp4")).id or 0)
    assert done.status == "failed" and done.error_code == "corrupt_clip"
    assert _left_behind(content) == []


async def test_a_restart_clears_half_written_files_and_unfinished_conversions(content: ContentService) -> None:
    (content.root / "tmp").mkdir(parents=True)
    (content.root / "tmp" / "cut-off.part").write_bytes(b"%PDF-half")
    (content.root / "work" / "x").mkdir(parents=True)
    # the row a stopped hub left in "converting"
    row = store.add_item(content.engine, ContentItem(original_name="a.pdf", kind="pdf", sha256="0" * 64, size=1))
    await asyncio.to_thread(content.sweep)
    assert _left_behind(content) == []
    after = store.get_item(content.engine, row.id or 0)
    assert after is not None and after.status == "failed" and "interrupted" in after.error
