"""The report's charts, drawn with matplotlib in the Thai report font, as PNG data URIs.

PNG rather than SVG: WeasyPrint lays SVG text out letter by letter, which
breaks Thai (a vowel or tone mark alone shows as a dotted circle), while
matplotlib's Agg shapes each label whole, so the marks stack correctly.
One image serves the page preview and the PDF.

Speed (issue 13, profiled with cProfile): a chart was ~0.5 s, half of it a
second full draw for ``bbox_inches="tight"``. Now each figure is a bare
:class:`~matplotlib.figure.Figure` (no pyplot state) with its margin for the
names set from their length, drawn once. A chart has at most
:data:`MAX_ROWS` bars: with the nation's 878 districts a bar per district is
unreadable (and took ~15 s a chart); a large report charts the districts that
need attention — the lowest attendance, the lowest availability, the least
saving against cost — and says so in the title. The table beside it has
every district.
"""

from __future__ import annotations

import base64
import io
import unicodedata
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path

from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from hub.reports import model as m
from hub.reports.labels import label

# Laksaman (fonts-thai-tlwg) is the free TH Sarabun PSK, the Thai government's document font.
FONT_FAMILY = "Laksaman"
FONT_FILES = (Path("/usr/share/fonts/truetype/tlwg/Laksaman.ttf"),
              Path("/usr/share/fonts/truetype/tlwg/Laksaman-Bold.ttf"))
COLOURS = {"on_time": "#2e7d32", "late": "#f9a825", "absent": "#c62828", "cost": "#1565c0", "saving": "#2e7d32"}
MAX_ROWS = 40
WIDTH_IN = 7.2
NAME_PT = 9
DPI = 150

for _font in FONT_FILES:
    if _font.is_file():
        font_manager.fontManager.addfont(str(_font))


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buf)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _spacing(text: str) -> int:
    # Thai vowels and tone marks above and below take no width of their own.
    return sum(1 for ch in text if not unicodedata.combining(ch) and unicodedata.category(ch) != "Mn")


def _figure(names: Sequence[str], title: str) -> tuple[Figure, Axes]:
    height = max(2.4, 0.22 * len(names) + 0.9)
    fig = Figure(figsize=(WIDTH_IN, height), dpi=DPI)
    # The left margin fits the longest name (~0.5 em a character in Laksaman) without a measuring draw.
    left_in = 0.25 + max((_spacing(n) for n in names), default=4) * NAME_PT * 0.5 / 72
    fig.subplots_adjust(left=min(0.5, left_in / WIDTH_IN), right=0.97, top=1 - 0.45 / height,
                        bottom=0.45 / height)
    ax = fig.add_subplot()
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_title(title, fontsize=11, fontfamily=[FONT_FAMILY, "DejaVu Sans"])
    return fig, ax


def _names(lines: Sequence[m.DistrictLine], lang: str) -> list[str]:
    return [ln.district.name_th if lang == "th" else ln.district.name_en for ln in lines]


def _pick(lines: Sequence[m.DistrictLine], key: Callable[[m.DistrictLine], Decimal | float], lang: str,
          title: str, worst: str = "chart_worst") -> tuple[list[m.DistrictLine], str]:
    """All lines in report order, or the :data:`MAX_ROWS` lowest by ``key`` (and the title says so)."""
    if len(lines) <= MAX_ROWS:
        return list(lines), label(title, lang)
    chosen = sorted(lines, key=lambda ln: (key(ln), ln.district.code))[:MAX_ROWS]
    return chosen, f"{label(title, lang)} — {label(worst, lang).format(n=MAX_ROWS, total=len(lines))}"


def _ticks(ax: Axes, names: Sequence[str]) -> None:
    ax.set_yticks(range(len(names)), names, fontsize=NAME_PT, fontfamily=[FONT_FAMILY, "DejaVu Sans"])
    ax.invert_yaxis()


def _legend(ax: Axes) -> None:
    ax.legend(loc="lower right", frameon=False, prop={"family": [FONT_FAMILY, "DejaVu Sans"], "size": 8})


def attendance_chart(lines: Sequence[m.DistrictLine], lang: str) -> str:
    chosen, title = _pick(lines, lambda ln: ln.attended / ln.scheduled if ln.scheduled else 1.0, lang,
                          "chart_attendance")
    names = _names(chosen, lang)
    fig, ax = _figure(names, title)
    y = range(len(chosen))
    left = [0.0] * len(chosen)
    for key in ("on_time", "late", "absent"):
        values = [float(getattr(ln, key)) for ln in chosen]
        ax.barh(list(y), values, left=left, color=COLOURS[key], label=label(key, lang))
        left = [a + b for a, b in zip(left, values, strict=True)]
    _ticks(ax, names)
    _legend(ax)
    return _png(fig)


def availability_chart(lines: Sequence[m.DistrictLine], lang: str) -> str:
    chosen, title = _pick(lines, lambda ln: ln.link.availability_pct or Decimal(0), lang, "chart_availability")
    names = _names(chosen, lang)
    fig, ax = _figure(names, title)
    values = [float(ln.link.availability_pct or 0) for ln in chosen]
    ax.barh(range(len(chosen)), values, color=["#2e7d32" if v >= 99 else "#f9a825" if v >= 95 else "#c62828"
                                               for v in values])
    _ticks(ax, names)
    ax.set_xlim(min([90.0, *values]) - 1, 100.5)
    return _png(fig)


def cost_saving_chart(lines: Sequence[m.DistrictLine], lang: str) -> str:
    chosen, title = _pick(lines, lambda ln: ln.saving.thb - ln.charge.total, lang, "chart_cost", "chart_cost_worst")
    names = _names(chosen, lang)
    fig, ax = _figure(names, title)
    y = [float(i) for i in range(len(chosen))]
    ax.barh([v - 0.2 for v in y], [float(ln.charge.total) for ln in chosen], height=0.4, color=COLOURS["cost"],
            label=label("cost", lang))
    ax.barh([v + 0.2 for v in y], [float(ln.saving.thb) for ln in chosen], height=0.4, color=COLOURS["saving"],
            label=label("saving", lang))
    _ticks(ax, names)
    _legend(ax)
    return _png(fig)
