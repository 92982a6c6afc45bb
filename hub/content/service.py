"""The content room at run time: receiving uploads, converting them, and the presentation controller.

Conversion never runs on the event loop: LibreOffice, the page renderer
(:mod:`hub.content.render`) and ffprobe/ffmpeg are child processes, each in
a session of its own, so the time limit can kill the whole process group
(LibreOffice's launcher forks ``soffice.bin``; killing only the launcher
would leave the real worker running). Hashing and zip reading run in
threads.

Files live under the content directory::

    tmp/<uuid>.part               an upload being received (removed on any failure)
    originals/<sha256>.<ext>      the uploaded bytes, renamed into place when complete
    pages/<sha256>-<W>x<H>/       page-0001.png …, renamed into place when all are written
    work/<uuid>/                  one conversion: LibreOffice profile, its PDF, the pages

The presentation controller (:meth:`ContentService.show` … :meth:`end`,
:meth:`current_frame`, :meth:`subscribe`) is what the conference and media
rooms call; see :class:`ContentFrame` and :class:`ContentChange`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import shutil
import signal
import sys
import time
import uuid
import zipfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from PIL import Image

from hub import audit
from hub.content import store
from hub.content.model import (
    HEAD_BYTES,
    OFFICE,
    ZIP_MAGIC,
    ZIPPED,
    Category,
    Change,
    ContentError,
    Kind,
    Stage,
    ZipFacts,
    category,
    check_magic,
    check_size,
)
from hub.content.render import page_name
from hub.content.store import ContentItem
from hub.events import EventBus
from hub.models import utcnow
from hub.settings import Settings

log = logging.getLogger("hub.content")

CHUNK = 64 * 1024
WRITE_BATCH = 1024 * 1024  # bytes gathered before one write in a thread
ZIP_MEMBER_MAX = 1024 * 1024  # [Content_Types].xml is a few KB; a huge one is not an office file
STDERR_KEEP = 2000
PLAYOUT_NAME = "clip.mp4"  # beside a clip's poster page: what the media worker plays
PLAYOUT_FPS = 25  # the program's frame rate


# --- what the media room reads --------------------------------------------------------------


@dataclass(frozen=True)
class ClipFrame:
    """A clip on the stage: where its play head is. ``at`` is ``time.monotonic()`` when
    ``position_s`` was true (CLOCK_MONOTONIC is the same in every process of the machine)."""

    path: Path  # the MP4 itself
    duration_s: float
    position_s: float
    at: float
    playing: bool


@dataclass(frozen=True)
class ContentFrame:
    """What the content tile shows now. ``version`` changes on every visible change."""

    conference_id: int
    version: int
    item_id: int
    category: Category
    page: int
    pages: int
    image: Path | None  # PNG of exactly width×height (a clip: its poster frame; a live screen: None)
    width: int
    height: int
    clip: ClipFrame | None = None
    screen: str | None = None  # a district's live screen (its agent's second video stream)

    def rgb(self) -> np.ndarray:
        """The page decoded: height×width×3 uint8, ready for ``av.VideoFrame.from_ndarray``."""
        if self.image is None:
            raise ValueError("a live screen has no page image")
        with Image.open(self.image) as picture:
            return np.asarray(picture.convert("RGB"))


@dataclass(frozen=True)
class ContentChange:
    """Told to every subscriber after the stage of a conference changed.

    ``keyframe``: the picture is new (show or page change): encode a keyframe
    now, so every district gets the whole page at once (no bitrate boost after
    it: x264 ignores one on the program's ABR encoder, scripts/bench_content_boost.py).
    ``layout``: the layout the program should take — "presentation" on show,
    the layout from before on end (None: keep what is there).
    """

    conference_id: int
    version: int
    change: Change
    frame: ContentFrame | None
    keyframe: bool
    layout: str | None


Listener = Callable[[ContentChange], None]
Progress = Callable[[str, int, int], None]


# --- receiving an upload ------------------------------------------------------------------


class Upload:
    """Bytes being received into a temporary file, hashed on the way, never past the limit."""

    def __init__(self, tmp_dir: Path, limit: int) -> None:
        tmp_dir.mkdir(parents=True, exist_ok=True)
        self.path = tmp_dir / f"{uuid.uuid4().hex}.part"
        self.limit = limit
        self.size = 0
        self.head = b""
        self._sha = hashlib.sha256()
        self._fh = self.path.open("xb")

    @property
    def sha256(self) -> str:
        return self._sha.hexdigest()

    async def receive(self, chunks: AsyncIterator[bytes]) -> None:
        """Take chunks until they end; past the limit stop pulling at once and refuse."""
        batch: list[bytes] = []
        pending = 0
        async for chunk in chunks:
            if self.size + len(chunk) > self.limit:
                raise ContentError("too_large", f"> {self.limit} bytes")
            self.size += len(chunk)
            self._sha.update(chunk)
            if len(self.head) < HEAD_BYTES:
                self.head = (self.head + chunk)[:HEAD_BYTES]
            batch.append(chunk)
            pending += len(chunk)
            if pending >= WRITE_BATCH:
                await asyncio.to_thread(self._fh.write, b"".join(batch))
                batch, pending = [], 0
        if batch:
            await asyncio.to_thread(self._fh.write, b"".join(batch))
        await asyncio.to_thread(self._close)

    def _close(self) -> None:
        if not self._fh.closed:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()

    def discard(self) -> None:
        if not self._fh.closed:
            self._fh.close()
        self.path.unlink(missing_ok=True)


def zip_facts(path: Path) -> ZipFacts:
    """The two members that say what an office zip is; a broken zip is a corrupt document."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())

            def member(name: str) -> str | None:
                if name not in names or archive.getinfo(name).file_size > ZIP_MEMBER_MAX:
                    return None
                return archive.read(name).decode("utf-8", "replace")

            return ZipFacts(mimetype=member("mimetype"), content_types=member("[Content_Types].xml"))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, RuntimeError, EOFError) as exc:
        raise ContentError("corrupt_document", "zip") from exc


# --- child processes under a time limit ----------------------------------------------------


async def run_limited(
    argv: list[str], deadline: float, on_line: Callable[[str], None] | None = None,
    env: dict[str, str] | None = None,
) -> tuple[int, str]:
    """Run ``argv`` in its own session until it exits or ``deadline`` (monotonic) passes.

    Returns (exit code, the tail of stderr). At the deadline the whole process
    group is killed and ``conversion_timeout`` raised; whatever it forked goes too.
    """
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, start_new_session=True, env=env,
    )
    assert proc.stdout is not None and proc.stderr is not None
    err_tail = bytearray()

    async def read_out() -> None:
        assert proc.stdout is not None
        async for raw in proc.stdout:
            if on_line is not None:
                on_line(raw.decode("utf-8", "replace").strip())

    async def read_err() -> None:
        assert proc.stderr is not None
        while chunk := await proc.stderr.read(4096):
            err_tail.extend(chunk)
            del err_tail[:-STDERR_KEEP]

    readers = asyncio.gather(read_out(), read_err())
    try:
        async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
            await readers
            code = await proc.wait()
    except TimeoutError:
        log.warning("%s: time limit reached, killing process group %s", argv[0], proc.pid)
        raise ContentError("conversion_timeout") from None
    finally:
        # Always: a launcher that exited may have left its worker in the group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        if proc.returncode is None:
            await proc.wait()
        readers.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await readers
    return code, err_tail.decode("utf-8", "replace")


class Converter:
    """Turns an original into page images of one size; each step a killable child process."""

    def __init__(self, soffice: str, ffprobe: str = "ffprobe", ffmpeg: str = "ffmpeg",
                 python: str = sys.executable) -> None:
        self.soffice = soffice
        self.ffprobe = ffprobe
        self.ffmpeg = ffmpeg
        self.python = python

    async def office_to_pdf(self, src: Path, work: Path, deadline: float) -> Path:
        # A profile per conversion: two LibreOffice runs sharing one profile block
        # each other (the second silently hands its job to the first, or fails).
        profile = work / "profile"
        out = work / "pdf"
        out.mkdir(parents=True)
        argv = [
            self.soffice, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--invisible",
            "--nologo", "--nodefault", "--nolockcheck", "--norestore",
            "--convert-to", "pdf", "--outdir", str(out), str(src),
        ]
        env = {**os.environ, "HOME": str(work)}
        code, err = await run_limited(argv, deadline, env=env)
        produced = out / (src.stem + ".pdf")
        if code != 0 or not produced.is_file() or produced.stat().st_size == 0:
            log.info("LibreOffice could not convert %s (exit %s): %s", src.name, code, err[-300:])
            raise ContentError("corrupt_document", "LibreOffice")
        return produced

    async def render(self, mode: str, src: Path, out: Path, width: int, height: int,
                     max_pages: int, deadline: float, progress: Progress) -> int:
        out.mkdir(parents=True, exist_ok=True)
        state: dict[str, Any] = {"pages": 0, "done": 0, "error": None}

        def on_line(line: str) -> None:
            try:
                msg = json.loads(line)
            except ValueError:
                return
            if "pages" in msg:
                state["pages"] = int(msg["pages"])
                progress("rendering", 0, state["pages"])
            elif "page" in msg:
                state["done"] = int(msg["page"])
                progress("rendering", state["done"], state["pages"])
            elif "error" in msg:
                state["error"] = (str(msg["error"]), str(msg.get("detail", "")))

        argv = [self.python, "-m", "hub.content.render", mode, str(src), str(out),
                str(width), str(height), str(max_pages)]
        code, err = await run_limited(argv, deadline, on_line)
        if state["error"] is not None:
            raise ContentError(*state["error"])
        if code != 0 or state["done"] < 1 or state["done"] != state["pages"]:
            log.warning("renderer failed on %s (exit %s): %s", src.name, code, err[-500:])
            raise ContentError("corrupt_document" if mode == "pdf" else "corrupt_image")
        return int(state["done"])

    async def probe_clip(self, src: Path, deadline: float) -> dict[str, Any]:
        lines: list[str] = []
        code, _ = await run_limited(
            [self.ffprobe, "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(src)],
            deadline, lines.append,
        )
        try:
            info = json.loads("\n".join(lines)) if code == 0 else {}
        except ValueError:
            info = {}
        streams = info.get("streams") or []
        video = next((s for s in streams if s.get("codec_type") == "video"), None)
        audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
        try:
            duration = float((info.get("format") or {}).get("duration") or 0.0)
        except ValueError:
            duration = 0.0
        if video is None or duration <= 0:
            raise ContentError("corrupt_clip")
        return {
            "duration_s": duration,
            "video_codec": video.get("codec_name"),
            "width": video.get("width"), "height": video.get("height"),
            "frame_rate": video.get("avg_frame_rate"),
            "audio_codec": audio.get("codec_name") if audio else None,
            "sample_rate": int(audio["sample_rate"]) if audio and audio.get("sample_rate") else None,
            # MP4 keeps H.264 as length-prefixed (AVCC) units: packets copied out of it
            # need the h264_mp4toannexb filter before an Annex-B consumer (docs/TRAPS.md).
            "h264_needs_annexb": video.get("codec_name") == "h264",
        }

    async def clip_playout(self, src: Path, out: Path, width: int, height: int, duration_s: float,
                           deadline: float, progress: Progress) -> None:
        """The clip as the media worker plays it: H.264 at the content tile's size, 25 fps, AAC mono 48 kHz,
        made to decode cheaply.

        Played from the original, a phone's 4K HEVC or 60 fps clip is decoded and scaled 25 times a
        second inside the briefing's media worker; made once here, at upload, under ``nice``, the
        worker only decodes a small stream whose frames already fit the tile (no scaling, no
        letterbox). A keyframe every second keeps a seek short.
        """
        scale = (f"scale={width}:{height}:force_original_aspect_ratio=decrease:flags=bicubic,"
                 f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2:color=black,fps={PLAYOUT_FPS},format=yuv420p")
        total = max(1, round(duration_s))

        def on_line(line: str) -> None:
            key, _, value = line.partition("=")
            if key == "out_time_us" and value.strip().lstrip("-").isdigit():
                progress("transcoding", min(total, max(0, int(value) // 1_000_000)), total)

        progress("transcoding", 0, total)
        code, err = await run_limited(
            ["nice", "-n", "10", self.ffmpeg, "-nostdin", "-v", "error", "-nostats", "-progress", "pipe:1",
             "-y", "-i", str(src), "-map", "0:v:0", "-map", "0:a:0?", "-vf", scale,
             # fastdecode (no CABAC, no deblocking): half the worker's decode (0.45 against 0.94 ms a
             # 960x540 frame) for 10 % more bytes on the hub's own disk
             "-c:v", "libx264", "-preset", "veryfast", "-tune", "fastdecode", "-crf", "20",
             "-g", str(PLAYOUT_FPS), "-keyint_min", str(PLAYOUT_FPS), "-sc_threshold", "0",
             "-c:a", "aac", "-b:a", "96k", "-ac", "1", "-ar", "48000",
             "-movflags", "+faststart", "-f", "mp4", str(out)], deadline, on_line,
        )
        if code != 0 or not out.is_file() or out.stat().st_size == 0:
            log.info("clip %s not transcoded (exit %s): %s", src.name, code, err[-300:])
            raise ContentError("corrupt_clip")
        progress("transcoding", total, total)

    async def clip_poster(self, src: Path, out: Path, width: int, height: int, deadline: float) -> None:
        out.mkdir(parents=True, exist_ok=True)
        scale = (f"scale={width}:{height}:force_original_aspect_ratio=decrease:flags=lanczos,"
                 f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2:color=black")
        code, err = await run_limited(
            [self.ffmpeg, "-nostdin", "-v", "error", "-y", "-i", str(src), "-frames:v", "1",
             "-vf", scale, str(out / page_name(1))], deadline,
        )
        if code != 0 or not (out / page_name(1)).is_file():
            log.info("no poster frame from %s: %s", src.name, err[-300:])
            raise ContentError("corrupt_clip")


# --- the service ----------------------------------------------------------------------------


class ContentService:
    def __init__(self, settings: Settings, engine: sa.Engine, events: EventBus,
                 converter: Converter | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.engine = engine
        self.events = events
        self.converter = converter or Converter(settings.content_soffice)
        self.clock = clock
        self.root = (settings.content_dir or settings.data_dir / "content").resolve()
        self.width = settings.content_page_width
        self.height = settings.content_page_height
        self.stages: dict[int, Stage] = {}
        self.tasks: dict[int, asyncio.Task[None]] = {}
        self._listeners: list[Listener] = []
        self._slots = asyncio.Semaphore(settings.content_parallel_conversions)
        self._locks: dict[int, asyncio.Lock] = {}
        self._on_stage: dict[int, ContentItem] = {}  # conference → the item its stage shows
        # conference → districts the chair allowed to present (hub.content.district)
        self.allowed: dict[int, set[str]] = {}

    # --- files ---
    @property
    def tmp_dir(self) -> Path:
        return self.root / "tmp"

    def _abs(self, relative: str) -> Path:
        return self.root / relative

    def start_upload(self) -> Upload:
        return Upload(self.tmp_dir, self.settings.content_max_upload_bytes)

    def sweep(self) -> None:
        """At start: uploads and conversions cut off by a stop are half-written; remove them."""
        for folder in (self.tmp_dir, self.root / "work"):
            shutil.rmtree(folder, ignore_errors=True)
        for item in store.library(self.engine):
            if item.status == "converting" and item.id is not None:
                store.update_item(self.engine, item.id, status="failed", error_code="interrupted",
                                  error="การแปลงถูกขัดจังหวะ / conversion was interrupted by a restart")

    # --- ingest ---
    async def ingest(self, upload: Upload, name: str, kind: Kind, *, conference_id: int,
                     series_id: int | None, actor: str, ip: str = "") -> ContentItem:
        """Check a received upload, keep it under its hash and start converting it.

        On a refusal the temporary file is gone and nothing is recorded but the audit.
        """
        try:
            check_size(upload.size, upload.limit)
            # The directory of a zip is read only when the file starts like one: a JPEG
            # renamed .pptx is a mismatch, not a corrupt document.
            facts = (await asyncio.to_thread(zip_facts, upload.path)
                     if kind in ZIPPED and upload.head.startswith(ZIP_MAGIC) else None)
            check_magic(kind, upload.head, facts)
            original = f"originals/{upload.sha256}.{kind.value}"
            target = self._abs(original)
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                upload.discard()  # the same bytes were sent before: keep one copy
            else:
                os.replace(upload.path, target)  # atomic: a reader sees all of it or nothing
        except ContentError as exc:
            upload.discard()
            await audit.arecord(self.engine, actor=actor, action="content.upload", target=f"conference:{conference_id}",
                                ok=False, ip=ip, detail={"name": name, "code": exc.code, "size": upload.size})
            raise
        twin = await asyncio.to_thread(store.ready_twin, self.engine, upload.sha256, self.width, self.height)
        item = ContentItem(
            conference_id=conference_id, series_id=series_id, original_name=name, kind=kind.value,
            sha256=upload.sha256, size=upload.size, original_path=original, uploaded_by=actor[:100],
            page_width=self.width, page_height=self.height,
        )
        if twin is not None:  # converted before at this size: the pages are already there
            item.status, item.pages, item.page_count = "ready", list(twin.pages), twin.page_count
            item.duration_s, item.media, item.converted_at = twin.duration_s, dict(twin.media), utcnow()
        item = await asyncio.to_thread(store.add_item, self.engine, item)
        assert item.id is not None
        await audit.arecord(self.engine, actor=actor, action="content.upload", target=f"content:{item.id}",
                            ip=ip, detail={"name": name, "kind": kind.value, "sha256": upload.sha256,
                                           "size": upload.size, "conference_id": conference_id,
                                           "series_id": series_id, "reused": twin is not None})
        if twin is None:
            self.tasks[item.id] = asyncio.create_task(self._convert(item))
        else:
            self._publish_item("content.ready", item)
        return item

    async def wait_converted(self, item_id: int) -> ContentItem:
        task = self.tasks.get(item_id)
        if task is not None:
            await asyncio.shield(task)
        item = await asyncio.to_thread(store.get_item, self.engine, item_id)
        if item is None:
            raise ContentError("not_found")
        return item

    def _progress(self, item: ContentItem) -> Progress:
        def report(stage: str, done: int, total: int) -> None:
            self.events.publish("content.progress", {
                "item_id": item.id, "conference_id": item.conference_id, "name": item.original_name,
                "stage": stage, "done": done, "total": total,
                "percent": round(100 * done / total) if total else None,
            })
        return report

    async def _convert(self, item: ContentItem) -> None:
        assert item.id is not None
        kind = Kind(item.kind)
        progress = self._progress(item)
        work = self.root / "work" / uuid.uuid4().hex
        pages_rel = f"pages/{item.sha256}-{self.width}x{self.height}"
        try:
            progress("queued", 0, 0)
            async with self._slots:
                deadline = time.monotonic() + self.settings.content_convert_timeout_s
                work.mkdir(parents=True)
                values = await self._convert_steps(kind, self._abs(item.original_path), work, deadline, progress)
                count = int(values.pop("page_count"))
                final = self._abs(pages_rel)
                final.parent.mkdir(parents=True, exist_ok=True)
                if final.exists():  # converted meanwhile by a twin: same bytes, same size, same pages
                    playout = work / "pages" / PLAYOUT_NAME
                    if playout.exists() and not (final / PLAYOUT_NAME).exists():
                        os.replace(playout, final / PLAYOUT_NAME)  # the twin was converted before playouts
                    shutil.rmtree(work / "pages")
                else:
                    os.replace(work / "pages", final)
            pages = [f"{pages_rel}/{page_name(i)}" for i in range(1, count + 1)]
            done = await asyncio.to_thread(
                store.update_item, self.engine, item.id, status="ready", pages=pages, page_count=count,
                converted_at=utcnow(), **values)
            progress("ready", count, count)
            if done is not None:
                self._publish_item("content.ready", done)
        except ContentError as exc:
            await self._failed(item, exc)
        except Exception as exc:  # a bug must still leave the item failed, not converting forever
            log.exception("content %s: conversion failed", item.id)
            await self._failed(item, ContentError("corrupt_document", type(exc).__name__))
        finally:
            shutil.rmtree(work, ignore_errors=True)
            self.tasks.pop(item.id, None)

    async def _convert_steps(self, kind: Kind, src: Path, work: Path, deadline: float,
                             progress: Progress) -> dict[str, Any]:
        conv = self.converter
        out = work / "pages"
        max_pages = self.settings.content_max_pages
        if kind in OFFICE:
            progress("converting", 0, 0)
            pdf = await conv.office_to_pdf(src, work, deadline)
            return {"page_count": await conv.render("pdf", pdf, out, self.width, self.height, max_pages, deadline, progress)}
        if kind is Kind.PDF:
            return {"page_count": await conv.render("pdf", src, out, self.width, self.height, max_pages, deadline, progress)}
        if category(kind) is Category.PHOTO:
            return {"page_count": await conv.render("photo", src, out, self.width, self.height, 1, deadline, progress)}
        progress("probing", 0, 1)
        media = await conv.probe_clip(src, deadline)
        await conv.clip_poster(src, out, self.width, self.height, deadline)
        # Transcoding runs at some multiple of real time: a long clip gets its length on top of the limit.
        await conv.clip_playout(src, out / PLAYOUT_NAME, self.width, self.height, media["duration_s"],
                                deadline + media["duration_s"], progress)
        media["playout"] = PLAYOUT_NAME
        return {"page_count": 1, "duration_s": media["duration_s"], "media": media}

    async def _failed(self, item: ContentItem, exc: ContentError) -> None:
        assert item.id is not None
        log.info("content %s (%s) refused: %s", item.id, item.original_name, exc.en)
        failed = await asyncio.to_thread(store.update_item, self.engine, item.id, status="failed",
                                         error_code=exc.code, error=str(exc)[:500], pages=[], page_count=0)
        await asyncio.to_thread(self._drop_original, item)
        await audit.arecord(self.engine, actor="system", action="content.convert", target=f"content:{item.id}",
                            ok=False, detail={"code": exc.code, "name": item.original_name})
        if failed is not None:
            self._publish_item("content.failed", failed, code=exc.code, th=exc.th, en=exc.en)

    def _drop_original(self, item: ContentItem) -> None:
        # The bytes stay while another item (ready or still converting) uses them.
        users = [other for other in store.items_with_sha(self.engine, item.sha256)
                 if other.id != item.id and other.status != "failed"]
        if not users:
            self._abs(item.original_path).unlink(missing_ok=True)

    def _publish_item(self, kind: str, item: ContentItem, **extra: Any) -> None:
        self.events.publish(kind, {"item_id": item.id, "conference_id": item.conference_id,
                                   "name": item.original_name, "status": item.status,
                                   "pages": item.page_count, **extra})

    def clip_path(self, item: ContentItem) -> Path:
        """The file the media worker plays: the playout made at upload; the original for a clip
        converted before playouts existed."""
        playout = item.media.get("playout")
        if playout and item.pages:
            return self._abs(item.pages[0]).parent / str(playout)
        return self._abs(item.original_path)

    def page_path(self, item: ContentItem, page: int) -> Path:
        if item.status != "ready":
            raise ContentError("not_ready")
        if not 1 <= page <= item.page_count:
            raise ContentError("page_out_of_range", f"1–{item.page_count}")
        return self._abs(item.pages[page - 1])

    # --- the presentation controller ---
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` after every change of any stage; returns the unsubscribe.

        Listeners run on the event loop right after the change and must not block
        (the media room forwards the change down its worker pipe).
        """
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def stage(self, conference_id: int) -> Stage:
        return self.stages.setdefault(conference_id, Stage())

    def current_frame(self, conference_id: int) -> ContentFrame | None:
        """What the content tile of ``conference_id`` shows now; None when nothing is shown.

        Memory only (no database, no file read): safe to call on the event loop at frame rate.
        """
        stage = self.stages.get(conference_id)
        item = self._on_stage.get(conference_id)
        if stage is not None and stage.showing is not None and stage.showing.screen is not None:
            shown = stage.showing
            return ContentFrame(conference_id, stage.version, 0, shown.category, 1, 1, None,
                                self.width, self.height, screen=shown.screen)
        if stage is None or stage.showing is None or item is None:
            return None
        shown = stage.showing
        clip = None
        if shown.clip is not None:
            now = self.clock()
            clip = ClipFrame(self.clip_path(item), shown.clip.duration_s,
                             shown.clip.position(now), now, shown.clip.playing)
        return ContentFrame(conference_id, stage.version, shown.item_id, shown.category, shown.page,
                            shown.pages, self._abs(item.pages[shown.page - 1]), item.page_width,
                            item.page_height, clip)

    def shown_item(self, conference_id: int) -> ContentItem | None:
        """The library item on the stage of ``conference_id`` (None: nothing shown)."""
        return self._on_stage.get(conference_id)

    async def allow(self, conference_id: int, site: str, on: bool, *, actor: str, ip: str = "") -> None:
        """The chair lets a district present (or takes it back); audited."""
        sites = self.allowed.setdefault(conference_id, set())
        if on:
            sites.add(site)
        else:
            sites.discard(site)
        await audit.arecord(self.engine, actor=actor, action="content.district_allow",
                            target=f"conference:{conference_id}/{site}", ip=ip, detail={"allowed": on})
        self.events.publish("content.allowed", {"conference_id": conference_id, "sites": sorted(sites)})

    def snapshot(self, conference_id: int) -> dict[str, Any]:
        return self.stage(conference_id).snapshot(self.clock())

    def _lock(self, conference_id: int) -> asyncio.Lock:
        return self._locks.setdefault(conference_id, asyncio.Lock())

    async def _ready_item(self, item_id: int) -> ContentItem:
        item = await asyncio.to_thread(store.get_item, self.engine, item_id)
        if item is None:
            raise ContentError("not_found")
        if item.status != "ready":
            raise ContentError("not_ready")
        return item

    async def show(self, conference_id: int, item_id: int, *, actor: str, ip: str = "",
                   page: int = 1, layout_now: str | None = None) -> ContentChange:
        """Put an item on the content tile. ``layout_now``: the layout to go back to on end."""
        async with self._lock(conference_id):
            item = await self._ready_item(item_id)
            stage = self.stage(conference_id)
            change = stage.show(item_id, Kind(item.kind), item.page_count, layout_now=layout_now,
                                duration_s=item.duration_s, page=page)
            self._on_stage[conference_id] = item
            return await self._changed(conference_id, change, actor, ip, "content.show",
                                       {"item_id": item_id, "name": item.original_name,
                                        "sha256": item.sha256, "page": page})

    async def share_screen(self, conference_id: int, site: str, *, actor: str, ip: str = "",
                           layout_now: str | None = None) -> ContentChange:
        """A district's live screen on the content tile (the caller checked it may present)."""
        async with self._lock(conference_id):
            change = self.stage(conference_id).share_screen(site, layout_now=layout_now)
            self._on_stage.pop(conference_id, None)
            return await self._changed(conference_id, change, actor, ip, "content.screen.start", {"site": site})

    async def stop_screen(self, conference_id: int, site: str, *, actor: str, ip: str = "") -> ContentChange:
        """The district stops sharing: the layout from before comes back. Only its own screen."""
        async with self._lock(conference_id):
            stage = self.stage(conference_id)
            if stage.screen_of() != site:
                raise ContentError("not_sharing")
            change, restore = stage.end()
            return await self._changed(conference_id, change, actor, ip, "content.screen.stop",
                                       {"site": site, "restore_layout": restore}, restore)

    async def step(self, conference_id: int, verb: str, *, actor: str, ip: str = "",
                   page: int = 0, position_s: float = 0.0) -> ContentChange:
        """next | prev | goto (page) | play | pause | seek (position_s) | end."""
        async with self._lock(conference_id):
            stage = self.stage(conference_id)
            now = self.clock()
            restore: str | None = None
            if verb == "next":
                change = stage.next()
            elif verb == "prev":
                change = stage.prev()
            elif verb == "goto":
                change = stage.goto(page)
            elif verb == "play":
                change = stage.play(now)
            elif verb == "pause":
                change = stage.pause(now)
            elif verb == "seek":
                change = stage.seek(position_s, now)
            elif verb == "end":
                change, restore = stage.end()
                self._on_stage.pop(conference_id, None)
            else:
                raise ContentError("bad_request", verb)
            action = {"next": "content.page", "prev": "content.page", "goto": "content.page",
                      "end": "content.end"}.get(verb, f"content.clip.{verb}")
            detail: dict[str, Any] = {"verb": verb}
            if stage.showing is not None:
                detail["item_id"] = stage.showing.item_id
                detail["page"] = stage.showing.page
                if stage.showing.clip is not None:
                    detail["position_s"] = round(stage.showing.clip.position(now), 3)
            if restore is not None:
                detail["restore_layout"] = restore
            return await self._changed(conference_id, change, actor, ip, action, detail, restore)

    async def _changed(self, conference_id: int, change: Change, actor: str, ip: str, action: str,
                       detail: dict[str, Any], restore: str | None = None) -> ContentChange:
        stage = self.stage(conference_id)
        frame = self.current_frame(conference_id)
        layout = "presentation" if change is Change.SHOW else restore if change is Change.END else None
        event = ContentChange(conference_id, stage.version, change, frame,
                              keyframe=change in (Change.SHOW, Change.PAGE), layout=layout)
        await audit.arecord(self.engine, actor=actor, action=action, target=f"conference:{conference_id}",
                            ip=ip, detail={**detail, "changed": change is not Change.NONE})
        if change is Change.NONE:
            return event
        if change in (Change.SHOW, Change.PAGE, Change.END):
            shown = stage.showing
            # a live screen is not a library item: it closes what was shown; the audit log keeps it
            await asyncio.to_thread(store.log_page, self.engine, conference_id,
                                    shown.item_id if shown and shown.screen is None else None,
                                    shown.page if shown else 0, actor)
        self.events.publish("content.stage", {"conference_id": conference_id, "change": change.value,
                                              "layout": layout, **stage.snapshot(self.clock())})
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # one broken subscriber must not stop the others or the operator
                log.exception("content listener %r failed", listener)
        return event

    async def close(self) -> None:
        """Stop conversions still running (their child processes are killed with them)."""
        tasks = list(self.tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
