"""Content test kit: real files of every kind, made in the test (python-pptx, MuPDF, Pillow, FFmpeg)."""

from __future__ import annotations

import asyncio
import io
import subprocess
import time
import zipfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import numpy as np
import pymupdf
from PIL import Image
from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.enum.shapes import MSO_SHAPE
from pptx.util import Inches, Pt

from hub.content.model import kind_of, safe_name
from hub.content.service import CHUNK, ContentService
from hub.content.store import ContentItem

SLIDE_BLUE = (0x10, 0x80, 0xE0)
THAI_TITLE = "สรุปอุบัติเหตุช่วงสงกรานต์ อำเภอนายูง"


def pptx_bytes(colour: tuple[int, int, int] = SLIDE_BLUE, slides: int = 1) -> bytes:
    """A 16:9 deck whose every slide is one big coloured rectangle with Thai text on it."""
    deck = Presentation()
    deck.slide_width, deck.slide_height = Inches(13.333), Inches(7.5)
    for n in range(slides):
        slide = deck.slides.add_slide(deck.slide_layouts[6])  # blank
        shape = slide.shapes.add_shape(MSO_SHAPE.RECTANGLE, 0, 0, deck.slide_width, deck.slide_height)
        shape.fill.solid()
        shape.fill.fore_color.rgb = RGBColor(*colour)
        shape.line.fill.background()
        box = slide.shapes.add_textbox(Inches(0.5), Inches(0.3), Inches(12), Inches(1.2))
        box.text_frame.text = f"{THAI_TITLE} ({n + 1})"
        box.text_frame.paragraphs[0].runs[0].font.size = Pt(40)
        box.text_frame.paragraphs[0].runs[0].font.color.rgb = RGBColor(255, 255, 255)
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


def pdf_bytes(pages: int = 3, size: tuple[float, float] = (842, 595)) -> bytes:
    """Landscape A4 pages, page n filled with a grey of its own and numbered."""
    doc = pymupdf.open()
    for n in range(pages):
        page = doc.new_page(width=size[0], height=size[1])
        grey = 0.2 + 0.2 * n
        page.draw_rect(page.rect, color=None, fill=(grey, grey, grey))
        page.insert_text((72, 120), f"Page {n + 1}", fontsize=48, color=(1, 1, 1))
    data: bytes = doc.tobytes()
    doc.close()
    return data


def corrupt_pdf_bytes() -> bytes:
    """Starts like a PDF (so it passes the magic check) and is garbage after the header."""
    return b"%PDF-1.7\n" + bytes(range(256)) * 40


def corrupt_pptx_bytes() -> bytes:
    """A real zip with the PPTX content types, whose slide parts are garbage."""
    good = zipfile.ZipFile(io.BytesIO(pptx_bytes()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as broken:
        broken.writestr("[Content_Types].xml", good.read("[Content_Types].xml"))
        for name in good.namelist():
            if name != "[Content_Types].xml":
                broken.writestr(name, b"\x00\x01not xml at all\xff" * 10)
    return out.getvalue()


def truncated_pptx_bytes() -> bytes:
    """The first half of a PPTX: the zip header is right, the directory is gone."""
    data = pptx_bytes()
    return data[: len(data) // 2]


def jpeg_bytes(width: int = 400, height: int = 200, orientation: int = 1,
               colour: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    """A wide red picture with a white left half-stripe; EXIF ``orientation`` set as a phone would."""
    picture = Image.new("RGB", (width, height), colour)
    picture.paste((255, 255, 255), (0, 0, width // 4, height))
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=95, exif=exif)
    return out.getvalue()


def png_bytes(width: int = 64, height: int = 64) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (0, 160, 0)).save(out, "PNG")
    return out.getvalue()


def mp4_file(path: Path, seconds: float = 2.0, tone_hz: int = 1000) -> Path:
    """A small H.264/AAC clip with a known tone (FFmpeg's test sources)."""
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc=size=320x180:rate=15:duration={seconds}",
         "-f", "lavfi", "-i", f"sine=frequency={tone_hz}:duration={seconds}",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
         "-shortest", str(path)],
        check=True, timeout=60,
    )
    return path


def mean_rgb(picture: Image.Image, box: tuple[int, int, int, int]) -> tuple[float, float, float]:
    mean = np.asarray(picture.convert("RGB").crop(box), dtype=np.float64).reshape(-1, 3).mean(axis=0)
    return float(mean[0]), float(mean[1]), float(mean[2])


def close(a: tuple[float, float, float], b: tuple[float, float, float], tol: float = 12) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))



async def ingest_bytes(service: ContentService, data: bytes, name: str, conference_id: int = 1,
                       series_id: int | None = None) -> ContentItem:
    """What the upload route does with a file part: check the name, stream, ingest."""
    name = safe_name(name)
    kind = kind_of(name)
    upload = service.start_upload()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(data), CHUNK):
            yield data[start:start + CHUNK]

    try:
        await upload.receive(chunks())
    except BaseException:
        upload.discard()
        raise
    return await service.ingest(upload, name, kind, conference_id=conference_id, series_id=series_id,
                                actor="operator:test")


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its reaper counts as dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


async def eventually(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Whether ``predicate`` becomes true within ``timeout`` (polled: processes have no event to wait on)."""
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return predicate()


def tone_free_of(samples: np.ndarray, hz: float, rate: int = 48_000) -> bool:
    """True when ``hz`` does not stand out of the spectrum (≥ 20 dB over the median bin)."""
    spec = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    freqs = np.fft.rfftfreq(samples.size, 1 / rate)
    band = spec[(freqs > hz - 15) & (freqs < hz + 15)].max()
    return bool(20 * np.log10((band + 1e-9) / (np.median(spec) + 1e-9)) < 20)


def wait_until(predicate: Callable[[], bool], timeout: float) -> bool:
    """Polled from a plain thread (the media parts here are threads, not the event loop)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()
