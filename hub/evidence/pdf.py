"""The evidence PDF: a Jinja template (templates/evidence/) rendered by WeasyPrint in Thai.

Kept to one function so the merge can point it at the reports room's shared PDF
machinery (font set-up, page frame) without touching the package code. Dates
are Asia/Bangkok with Buddhist Era years. The font is TLWG Laksaman (fonts-thai-tlwg,
the metrics of the government's TH Sarabun): one file with Thai and Latin. The control
room's Sarabun comes as two unicode-range woff2 subsets, which WeasyPrint embeds as two
fonts whose glyphs collide in the PDF (garbled text), so it is not used here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import jinja2

from hub.paths import STATIC_DIR, templates_dir
from hub.web.i18n import format_datetime


def _when(value: str | None, tz: str) -> str:
    if not value:
        return "—"
    return format_datetime(datetime.fromisoformat(value), "th", tz)


def _clock(value: str | None, tz: str) -> str:
    if not value:
        return "—"
    return format_datetime(datetime.fromisoformat(value), "th", tz).rsplit(" ", 2)[-2]


def _duration(value: float | None) -> str:
    total = round(value or 0)
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _env(tz: str) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir() / "evidence")),
                             autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters["when"] = lambda v: _when(v, tz)
    env.filters["clock"] = lambda v: _clock(v, tz)
    env.filters["duration"] = _duration
    return env


def render_html(doc: dict[str, Any], tz: str = "Asia/Bangkok") -> str:
    return _env(tz).get_template("evidence.html").render(doc=doc)


def render_pdf(doc: dict[str, Any], tz: str = "Asia/Bangkok") -> bytes:
    # WeasyPrint (~45 MB resident) loads at the first package, not at hub start (issue 13's RSS fix).
    from weasyprint import HTML

    html = render_html(doc, tz)
    pdf: bytes = HTML(string=html, base_url=str(STATIC_DIR)).write_pdf()
    return pdf
