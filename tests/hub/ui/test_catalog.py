"""Every user-facing string has its Thai: no empty msgstr, placeholders kept, pages render in both."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.pofile import read_po

from hub.web.i18n import LOCALE_DIR

TH_PO = LOCALE_DIR / "th" / "LC_MESSAGES" / "messages.po"
TEMPLATES = Path(__file__).resolve().parents[3] / "templates"


def test_every_thai_msgstr_is_filled() -> None:
    with TH_PO.open("rb") as fh:
        catalog = read_po(fh, locale="th")
    empty = [m.id for m in catalog if m.id and not m.string]
    assert empty == [], f"{len(empty)} strings lack Thai: {empty[:10]}"
    for m in catalog:
        if m.id and isinstance(m.id, str):
            wanted = sorted(re.findall(r"%\(\w+\)s|\{\w*\}", m.id))
            assert sorted(re.findall(r"%\(\w+\)s|\{\w*\}", str(m.string))) == wanted, m.id


def test_templates_have_no_bare_english_text() -> None:
    """Visible text in the page templates goes through _(): a crude check for words outside tags."""
    pages = ["schedule.html", "conference.html", "district.html", "reports.html", "admin.html", "board.html",
             "_site_tile.html", "_nav.html", "_missing.html", "_ui_common.html"]
    offenders = []
    for name in pages:
        text = (TEMPLATES / name).read_text(encoding="utf-8")
        text = re.sub(r"\{#.*?#\}|\{\{.*?\}\}|\{%.*?%\}", " ", text, flags=re.S)
        text = re.sub(r"<[^>]+>", " ", text)
        offenders += [(name, w) for w in re.findall(r"\b[A-Za-z]{3,}\b", text) if w not in {"SHA", "SNMP", "Mbps"}]  # units and acronyms
    assert offenders == []
