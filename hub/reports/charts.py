"""The report's charts, drawn with matplotlib in the Thai report font, as PNG data URIs.

PNG rather than SVG: WeasyPrint lays SVG text out letter by letter, which
breaks Thai (a vowel or tone mark alone shows as a dotted circle), while
matplotlib's Agg shapes each label whole, so the marks stack correctly.
One image serves the page preview and the PDF.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on a server; must precede pyplot

import matplotlib.pyplot as plt
from matplotlib import font_manager
from matplotlib.figure import Figure

from hub.reports import model as m
from hub.reports.labels import label

# Laksaman (fonts-thai-tlwg) is the free TH Sarabun PSK, the Thai government's document font.
FONT_FAMILY = "Laksaman"
FONT_FILES = (Path("/usr/share/fonts/truetype/tlwg/Laksaman.ttf"),
              Path("/usr/share/fonts/truetype/tlwg/Laksaman-Bold.ttf"))
COLOURS = {"on_time": "#2e7d32", "late": "#f9a825", "absent": "#c62828", "cost": "#1565c0", "saving": "#2e7d32"}

for _font in FONT_FILES:
    if _font.is_file():
        font_manager.fontManager.addfont(str(_font))


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=150, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _figure(rows: int) -> tuple[Figure, plt.Axes]:
    plt.rcParams["font.family"] = [FONT_FAMILY, "DejaVu Sans"]
    fig, ax = plt.subplots(figsize=(7.2, max(2.4, 0.22 * rows + 0.9)), dpi=100)
    ax.spines[["top", "right"]].set_visible(False)
    return fig, ax


def _names(lines: Sequence[m.DistrictLine], lang: str) -> list[str]:
    return [ln.district.name_th if lang == "th" else ln.district.name_en for ln in lines]


def attendance_chart(lines: Sequence[m.DistrictLine], lang: str) -> str:
    fig, ax = _figure(len(lines))
    names = _names(lines, lang)
    y = range(len(lines))
    left = [0.0] * len(lines)
    for key in ("on_time", "late", "absent"):
        values = [float(getattr(ln, key)) for ln in lines]
        ax.barh(list(y), values, left=left, color=COLOURS[key], label=label(key, lang))
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.set_yticks(list(y), names, fontsize=9)
    ax.invert_yaxis()
    ax.set_title(label("chart_attendance", lang), fontsize=11)
    ax.legend(fontsize=8, loc="lower right", frameon=False)
    return _png(fig)


def availability_chart(lines: Sequence[m.DistrictLine], lang: str) -> str:
    fig, ax = _figure(len(lines))
    values = [float(ln.link.availability_pct or 0) for ln in lines]
    ax.barh(range(len(lines)), values, color=["#2e7d32" if v >= 99 else "#f9a825" if v >= 95 else "#c62828"
                                               for v in values])
    ax.set_yticks(range(len(lines)), _names(lines, lang), fontsize=9)
    ax.invert_yaxis()
    ax.set_xlim(min([90.0, *values]) - 1, 100.5)
    ax.set_title(label("chart_availability", lang), fontsize=11)
    return _png(fig)


def cost_saving_chart(lines: Sequence[m.DistrictLine], lang: str) -> str:
    fig, ax = _figure(len(lines))
    y = [float(i) for i in range(len(lines))]
    ax.barh([v - 0.2 for v in y], [float(ln.charge.total) for ln in lines], height=0.4, color=COLOURS["cost"],
            label=label("cost", lang))
    ax.barh([v + 0.2 for v in y], [float(ln.saving.thb) for ln in lines], height=0.4, color=COLOURS["saving"],
            label=label("saving", lang))
    ax.set_yticks(y, _names(lines, lang), fontsize=9)
    ax.invert_yaxis()
    ax.set_title(label("chart_cost", lang), fontsize=11)
    ax.legend(fontsize=8, loc="lower right", frameon=False)
    return _png(fig)
