"""HTML to PDF with WeasyPrint (Pango/HarfBuzz shape the Thai; the font comes from fontconfig)."""

from __future__ import annotations

from weasyprint import HTML

from hub.paths import templates_dir


def html_to_pdf(html: str) -> bytes:
    # base_url: the stylesheet and any image in templates/reports/ resolve without a web server.
    out = HTML(string=html, base_url=str(templates_dir() / "reports")).write_pdf()
    assert out is not None
    return bytes(out)
