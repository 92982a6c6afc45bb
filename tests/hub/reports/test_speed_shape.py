"""What the speed work (issue 13) changed in the product: a national PDF is a summary, and the hub
starts without the heavy renderers (they load at the first report)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from hub.linkhealth.store import LinkRollup
from hub.reports import model as m
from hub.reports import render
from hub.reports.service import build_monthly
from hub.reports.store import ReportLinkMonth
from hub.settings import Settings
from tests.hub.reports.seed import seeded_engine

NOW = datetime(2018, 6, 2, 3, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[sa.Engine, Settings]]:
    engine, settings = seeded_engine(tmp_path_factory.mktemp("seeded"))
    yield engine, settings
    engine.dispose()


@pytest.fixture(scope="module")
def april(seeded: tuple[sa.Engine, Settings]) -> m.MonthlyReport:
    return build_monthly(*seeded, m.Month(2018, 4), NOW)


def test_a_closed_month_freezes_its_median_rtt_and_reads_it_back(
        seeded: tuple[sa.Engine, Settings], april: m.MonthlyReport) -> None:
    engine, settings = seeded
    with engine.connect() as c:
        frozen = c.execute(sa.select(ReportLinkMonth.site_id, ReportLinkMonth.rtt_median_ms,  # type: ignore[call-overload]
                                     ReportLinkMonth.rtt_frozen).where(ReportLinkMonth.month == "2018-04")).all()
    assert len(frozen) == 20 and all(f for _, _, f in frozen)
    # Change an hour's rollup after the close: the frozen median holds, the report does not move.
    with engine.begin() as c:
        c.execute(sa.update(LinkRollup).values(rtt_median_ms=999.0))
    again = build_monthly(engine, settings, m.Month(2018, 4), NOW)
    assert [ln.link.rtt_median_ms for ln in again.lines] == [ln.link.rtt_median_ms for ln in april.lines]
    assert any(ln.link.rtt_median_ms for ln in april.lines)


def _nation(r: m.MonthlyReport, copies: int) -> m.MonthlyReport:
    """The seeded province's 20 lines repeated under new codes and names: a report of 20 × copies districts."""
    lines = tuple(dataclasses.replace(ln, district=dataclasses.replace(
        ln.district, code=f"{ln.district.code}-{k:02d}", name_th=f"{ln.district.name_th} {k}",
        name_en=f"{ln.district.name_en} {k}")) for k in range(copies) for ln in r.lines)
    totals = m.totals_of(lines)
    return dataclasses.replace(r, lines=lines, totals=totals, change=m.change_of(totals, r.previous))


def test_a_report_over_100_districts_is_a_pdf_summary_with_every_line_in_the_tables(
        tmp_path: Path, april: m.MonthlyReport) -> None:
    big = _nation(april, 6)  # 120 districts
    assert len(big.lines) == 120 > render.STATEMENTS_MAX
    body, _, _ = render.render_monthly(big, "pdf", "th")
    path = tmp_path / "nation.pdf"
    path.write_bytes(body)
    info = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, text=True).stdout
    pages = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True,
                          text=True).stdout
    # Totals, the sum, the charts; no 120 statement pages and no 20-page district table.
    assert pages <= 6, pages
    assert m.format_thb(big.totals.total) in text and "120" in text
    assert "แยกต่อจังหวัด" in text and "XLSX และ CSV" in text  # the two notes (pdftotext splits ำ)
    assert "โนนสะอาด 3" not in text  # no district row
    # The HTML preview and the CSV keep every district.
    html = render.render_html(big, "th")
    assert html.count('<tr data-code="') == 120 and "โนนสะอาด 3" in html
    csv_rows = render.render_monthly(big, "csv", "th")[0].decode("utf-8-sig").splitlines()
    assert len(csv_rows) == 1 + 120 + 1


def test_the_province_pdf_keeps_its_table_and_statements(april: m.MonthlyReport) -> None:
    html = render.render_html(april, "th", for_pdf=True)
    assert html.count('<section class="statement"') == 20 and html.count('<tr data-code="') == 20
    assert 'id="table-note"' not in html and 'id="statements-note"' not in html


def test_the_hub_starts_without_weasyprint_matplotlib_pymupdf_or_openpyxl(tmp_path: Path) -> None:
    # A fresh interpreter builds the whole app (every room's setup) and lists what got imported.
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from hub.app import create_app\n"
        "from hub.settings import Settings\n"
        f"create_app(Settings(data_dir=Path({str(tmp_path)!r})))\n"
        "print(sorted(m for m in ('weasyprint', 'matplotlib', 'pymupdf', 'fitz', 'openpyxl') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True,
                         timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr


def test_renderers_load_at_the_first_report(april: m.MonthlyReport) -> None:
    body, mime, _ = render.render_monthly(april, "xlsx", "en")
    assert mime.endswith("spreadsheetml.sheet") and body[:2] == b"PK" and "openpyxl" in sys.modules

