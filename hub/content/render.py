"""The page renderer, run as a child process: ``python -m hub.content.render KIND SRC OUT W H [MAX]``.

A child, not a thread, so that a PDF or picture built to hang or crash the
renderer can be killed at the time limit and takes only itself down. It
prints one JSON object per line on stdout: ``{"pages": n}``, then
``{"page": i}`` as each page is written (the hub turns these into progress),
or ``{"error": code, "detail": text}`` and exits 2.

Pages are rasterised by MuPDF straight at their final size inside the
W×H tile (vector text drawn at the pixels it will be seen at is sharper
than any rescale), letterboxed on black. Photos, which are pixels already,
are scaled with Lanczos.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

from PIL import Image, ImageOps

from hub.content.model import ContentError, fit

# Pictures above this many pixels are refused (a decompression bomb is a few KB of PNG).
MAX_PHOTO_PIXELS = 60_000_000
BACKGROUND = (0, 0, 0)


def _say(**message: object) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def _canvas(picture: Image.Image, width: int, height: int) -> Image.Image:
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    canvas.paste(picture, ((width - picture.width) // 2, (height - picture.height) // 2))
    return canvas


def page_name(index: int) -> str:
    return f"page-{index:04d}.png"


def render_pdf(src: Path, out: Path, width: int, height: int, max_pages: int) -> int:
    # Here, not at the top: hub.content.service imports page_name from this module, and PyMuPDF
    # (~130 MB resident) belongs in the child renderer only, not in the hub (issue 13's RSS fix).
    import pymupdf

    try:
        doc = pymupdf.open(src, filetype="pdf")
    except (pymupdf.FileDataError, RuntimeError, ValueError) as exc:
        raise ContentError("corrupt_document", type(exc).__name__) from exc
    with doc:
        if doc.needs_pass:
            raise ContentError("corrupt_document", "password protected")
        count = doc.page_count
        if count < 1:
            raise ContentError("no_pages")
        if count > max_pages:
            raise ContentError("too_many_pages", f"{count} > {max_pages}")
        _say(pages=count)
        for index in range(count):
            try:
                page = doc.load_page(index)
                rect = page.rect
                w, h = fit(rect.width, rect.height, width, height)
                matrix = pymupdf.Matrix(w / rect.width, h / rect.height)
                pix = page.get_pixmap(matrix=matrix, alpha=False, colorspace=pymupdf.csRGB)
            except (RuntimeError, ValueError) as exc:
                raise ContentError("corrupt_document", f"page {index + 1}") from exc
            picture = Image.frombytes("RGB", (pix.width, pix.height), pix.samples)
            if picture.size != (w, h):  # MuPDF rounds the page box outward by a pixel at most
                picture = picture.resize((w, h), Image.Resampling.LANCZOS)
            # compress_level 1: pages are written once and read by the compositor; size matters less than time
            _canvas(picture, width, height).save(out / page_name(index + 1), compress_level=1)
            _say(page=index + 1)
        return count


def render_photo(src: Path, out: Path, width: int, height: int) -> int:
    Image.MAX_IMAGE_PIXELS = MAX_PHOTO_PIXELS
    _say(pages=1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(src) as raw:
                if raw.format not in ("JPEG", "PNG"):
                    raise ContentError("corrupt_image", str(raw.format))
                upright = ImageOps.exif_transpose(raw)  # phones store the turn in EXIF, not in the pixels
                picture = upright.convert("RGB")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as exc:
        raise ContentError("corrupt_image", type(exc).__name__) from exc
    w, h = fit(picture.width, picture.height, width, height)
    picture = picture.resize((w, h), Image.Resampling.LANCZOS)
    _canvas(picture, width, height).save(out / page_name(1), compress_level=1)
    _say(page=1)
    return 1


def main(argv: list[str]) -> int:
    if len(argv) not in (5, 6) or argv[0] not in ("pdf", "photo"):
        sys.stderr.write("usage: python -m hub.content.render pdf|photo SRC OUT WIDTH HEIGHT [MAX_PAGES]\n")
        return 64
    kind, src, out, width, height = argv[0], Path(argv[1]), Path(argv[2]), int(argv[3]), int(argv[4])
    max_pages = int(argv[5]) if len(argv) == 6 else 1000
    try:
        if kind == "pdf":
            render_pdf(src, out, width, height, max_pages)
        else:
            render_photo(src, out, width, height)
    except ContentError as exc:
        _say(error=exc.code, detail=exc.detail)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
