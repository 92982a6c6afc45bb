"""The seeded April 2018 (tests/hub/reports/seed.py): every figure against a hand computation, every format read back."""

from __future__ import annotations

import csv
import io
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from hub.briefings.store import BriefingOccurrence
from hub.reports import model as m
from hub.reports import render
from hub.reports.service import build_briefing, build_monthly, build_series
from hub.reports.store import ReportLinkMonth
from hub.settings import Settings
from tests.hub.reports.seed import SONGKRAN, seeded_engine

NOW = datetime(2018, 6, 2, 3, 0, tzinfo=UTC)
APRIL = m.Month(2018, 4)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[sa.Engine, Settings]]:
    engine, settings = seeded_engine(tmp_path_factory.mktemp("seeded"))
    yield engine, settings
    engine.dispose()


@pytest.fixture(scope="module")
def april(seeded: tuple[sa.Engine, Settings]) -> m.MonthlyReport:
    return build_monthly(*seeded, APRIL, NOW)


def line(report: m.MonthlyReport, code: str) -> m.DistrictLine:
    return next(ln for ln in report.lines if ln.district.code == code)


def test_partial_first_month_udn05(april: m.MonthlyReport) -> None:
    ln = line(april, "UDN05")  # billed from 10 April: 21 of 30 days
    assert (ln.charge.days_billed, ln.charge.fee, ln.charge.vat, ln.charge.total) == (21, D("875.00"), D("61.25"),
                                                                                      D("936.25"))
    assert (ln.scheduled, ln.on_time, ln.late, ln.left_early, ln.absent) == (7, 7, 0, 0, 0)
    assert (ln.minutes_connected, ln.minutes_floor) == (7 * 30, 0)
    # availability over the billed minutes only: 21 × 1440, all green
    assert (ln.link.minutes_billed, ln.link.minutes_down, ln.link.availability_pct) == (30240, 0, D("100.00"))
    assert ln.cost_per_hour == D("267.50")  # 936.25 ÷ 3.5 h
    # 56 km × 2 × 4 THB × 2 people × 7 briefings; 56 × 2 × 7 ÷ 60 km/h × 2 = 26.13 → 26.1 person-hours
    assert (ln.saving.thb, ln.saving.person_hours) == (D("6272.00"), D("26.1"))
    assert m.utilisation_pct(ln.link.p95_down_bps, 200) == 10.0 and m.utilisation_pct(ln.link.p95_up_bps, 80) == 10.0


def test_absent_all_month_udn09(april: m.MonthlyReport) -> None:
    ln = line(april, "UDN09")
    assert (ln.charge.fee, ln.charge.vat, ln.charge.total) == (D("1250.00"), D("87.50"), D("1337.50"))
    assert (ln.scheduled, ln.on_time, ln.late, ln.absent, ln.minutes_connected) == (7, 0, 0, 7, 0)
    assert ln.cost_per_hour is None and ln.saving.thb == D("0.00")
    assert ln.link.availability_pct == D("100.00")  # the link was fine; nobody joined


def test_link_down_for_a_day_udn06(april: m.MonthlyReport) -> None:
    ln = line(april, "UDN06")
    # 1,440 of 43,200 minutes down: 41,760 / 43,200 = 96.666… → 96.67 %
    assert (ln.link.minutes_green, ln.link.minutes_down, ln.link.availability_pct) == (41760, 1440, D("96.67"))
    assert ln.link.hub_check_pct == D("96.67")  # 696 of 720 hourly polls answered
    assert (ln.scheduled, ln.on_time, ln.absent, ln.minutes_connected) == (7, 6, 1, 180)
    assert ln.cost_per_hour == D("445.83")  # 1337.50 ÷ 3 h = 445.833…
    assert ln.saving.thb == D("4320.00")  # 45 × 2 × 4 × 2 × 6


def test_late_left_early_floor_and_amber(april: m.MonthlyReport) -> None:
    udn03, udn04, udn02 = line(april, "UDN03"), line(april, "UDN04"), line(april, "UDN02")
    assert (udn03.on_time, udn03.late, udn03.minutes_connected, udn03.minutes_floor) == (6, 1, 6 * 30 + 25, 3)
    assert (udn04.on_time, udn04.left_early, udn04.minutes_connected) == (7, 1, 6 * 30 + 20)
    assert udn02.minutes_floor == 5
    # 30 amber minutes are still up; 12 lost of 1,200 × 720 probes
    assert (udn02.link.minutes_amber, udn02.link.availability_pct) == (30, D("100.00"))
    assert udn02.link.loss_pct == round(12 * 100 / (1200 * 720), 3)
    assert m.utilisation_pct(line(april, "UDN01").link.p95_down_bps, 200) == 10.0  # top 5 % of buckets dropped


def test_province_totals_are_the_sums_of_the_lines(april: m.MonthlyReport) -> None:
    t = april.totals
    # 19 full months + UDN05's 936.25
    assert (t.fee, t.vat, t.total) == (D("24625.00"), D("1723.75"), D("26348.75"))
    assert t.total == sum(ln.charge.total for ln in april.lines)
    assert (t.scheduled, t.attended, t.absent) == (140, 132, 8)
    assert april.previous is None  # March 2018 is before billing started
    assert len(april.lines) == 20


def test_fee_change_on_the_16th_and_change_against_april(seeded: tuple[sa.Engine, Settings]) -> None:
    may = build_monthly(*seeded, m.Month(2018, 5), NOW)
    udn07 = line(may, "UDN07")
    assert (udn07.charge.fee, udn07.charge.vat, udn07.charge.total) == (D("1327.42"), D("92.92"), D("1420.34"))
    assert [(p.days, p.monthly_fee) for p in udn07.charge.parts] == [(15, D("1250.00")), (16, D("1400.00"))]
    assert may.totals.total == D("1337.50") * 19 + D("1420.34") == D("26832.84")
    assert may.previous is not None and may.previous.total == D("26348.75")
    assert may.change.total == D("484.09")
    assert line(may, "UDN06").link.availability_pct == D("0.00")  # no probe report at all in May: down


def test_closed_month_keeps_its_raw_figures(seeded: tuple[sa.Engine, Settings], april: m.MonthlyReport) -> None:
    engine, _ = seeded
    with Session(engine) as s:
        rows = s.exec(select(ReportLinkMonth).where(ReportLinkMonth.month == "2018-04")).all()
    assert len(rows) == 20 and {r.buckets for r in rows} >= {8640, 6048}


def test_bad_months_are_refused_and_nothing_is_written(seeded: tuple[sa.Engine, Settings]) -> None:
    engine, settings = seeded

    def count() -> int:
        with Session(engine) as s:
            return len(s.exec(select(ReportLinkMonth)).all())

    before = count()
    for month, words in ((m.Month(2018, 3), "before billing"), (m.Month(2018, 7), "future"),
                         (m.Month(2018, 6), "not over")):
        with pytest.raises(m.ReportError, match=words):
            build_monthly(engine, settings, month, NOW)
    assert count() == before
    with pytest.raises(m.ReportError, match="unknown format"):
        render.render_monthly(build_monthly(engine, settings, APRIL, NOW), "docx", "th")


def test_csv_has_a_bom_and_parses_back_to_the_totals(april: m.MonthlyReport) -> None:
    body, mime, name = render.render_monthly(april, "csv", "th")
    assert body.startswith(b"\xef\xbb\xbf") and mime.startswith("text/csv") and name.endswith("2018-04.csv")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    header, lines, total = rows[0], rows[1:-1], rows[-1]
    assert header[:6] == ["รหัส", "อำเภอ", "วันที่คิดค่าบริการ", "ค่าบริการ (ไม่รวม VAT)", "ภาษีมูลค่าเพิ่ม", "รวมทั้งสิ้น"]
    assert len(lines) == 20
    assert sum(D(r[5]) for r in lines) == D(total[5]) == D("26348.75")
    assert next(r for r in lines if r[0] == "UDN05")[1:6] == ["โนนสะอาด", "21", "875.00", "61.25", "936.25"]


def test_xlsx_numbers_formats_frozen_headers_and_sheets(april: m.MonthlyReport) -> None:
    body, _, _ = render.render_monthly(april, "xlsx", "th")
    wb = openpyxl.load_workbook(io.BytesIO(body))
    assert wb.sheetnames == ["สรุป", "ค่าใช้จ่าย", "การเข้าร่วม", "สัญญาณ"]
    cost = wb["ค่าใช้จ่าย"]
    assert cost.freeze_panes == "C2"
    values = [row for row in cost.iter_rows(min_row=2, values_only=True)]
    assert len(values) == 21
    assert all(isinstance(r[5], float) for r in values)
    assert round(sum(r[5] for r in values[:-1]), 2) == values[-1][5] == 26348.75
    assert "฿" in cost["F2"].number_format
    att = {r[0]: r for r in wb["การเข้าร่วม"].iter_rows(min_row=2, values_only=True)}
    assert att["UDN09"][2:7] == (7, 0, 0, 0, 7)
    link = {r[0]: r for r in wb["สัญญาณ"].iter_rows(min_row=2, values_only=True)}
    assert link["UDN06"][2] == 96.67


def _pdf(tmp_path: Path, report: m.MonthlyReport, lang: str) -> tuple[int, str]:
    body, mime, _ = render.render_monthly(report, "pdf", lang)
    assert mime == "application/pdf" and body.startswith(b"%PDF")
    path = tmp_path / f"april-{lang}.pdf"
    path.write_bytes(body)
    subprocess.run(["pdftoppm", "-r", "30", "-png", str(path), str(tmp_path / f"page-{lang}")], check=True,
                   timeout=120)
    pages = len(list(tmp_path.glob(f"page-{lang}-*.png")))
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True,
                          timeout=60).stdout
    return pages, text


@pytest.mark.slow
def test_pdf_pages_thai_names_totals_and_words(tmp_path: Path, april: m.MonthlyReport) -> None:
    pages, text = _pdf(tmp_path, april, "th")
    # 3 pages of tables, 3 of charts, one statement per district
    assert pages == 3 + 3 + 20
    for name in ("โนนสะอาด", "หนองหาน", "ศรีธาตุ", "นายูง", "เมืองอุดรธานี"):
        assert name in text
    assert "26,348.75" in text and "936.25" in text and "1,337.50" in text
    assert "หนึ่งพันสามร้อยสามสิบเจ็ดบาทห้าสิบสตางค์" in text
    assert "เก้าร้อยสามสิบหกบาทยี่สิบห้าสตางค์" in text  # UDN05's statement
    assert "เมษายน 2561" in text  # Buddhist Era


@pytest.mark.slow
def test_english_version(tmp_path: Path, april: m.MonthlyReport) -> None:
    html = render.render_html(april, "en")
    assert "April 2018" in html and "Non Sa-at" in html and "Province total" in html
    pages, text = _pdf(tmp_path, april, "en")
    assert pages == 26 and "Nong Han" in text and "26,348.75" in text


def test_series_grid_songkran_week(seeded: tuple[sa.Engine, Settings]) -> None:
    grid = build_series(*seeded, SONGKRAN[0], SONGKRAN[-1], NOW)
    assert grid.days == tuple(SONGKRAN)
    rows = {d.code: (cells, counts) for d, cells, counts in grid.rows}
    assert rows["UDN03"][0][1] == "late" and rows["UDN04"][0][2] == "dropped" and rows["UDN06"][0][3] == "absent"
    assert rows["UDN09"][1] == {"on_time": 0, "late": 0, "dropped": 0, "absent": 7}
    assert rows["UDN01"][1]["on_time"] == 7
    # 13 April: 18 on time, UDN03 late, UDN09 absent
    assert grid.day_totals[1] == {"on_time": 18, "late": 1, "dropped": 0, "absent": 1}
    html = render.render_series_html(grid, "th")
    assert "ตารางการเข้าร่วมรายวัน" in html and "12 เม.ย. 61" in html
    with pytest.raises(m.ReportError):
        build_series(*seeded, SONGKRAN[-1], SONGKRAN[0], NOW)


def test_one_briefing_intervals_floor_and_speakers(seeded: tuple[sa.Engine, Settings]) -> None:
    engine, settings = seeded
    grid = build_series(engine, settings, SONGKRAN[0], SONGKRAN[0], NOW)
    assert grid.days == (SONGKRAN[0],)
    with Session(engine) as s:
        occ = s.exec(select(BriefingOccurrence).where(BriefingOccurrence.key_date == SONGKRAN[0])).one()
    body = build_briefing(engine, settings, occ.id or 0)
    sites = {x["code"]: x for x in body["sites"]}
    assert sites["UDN02"]["floor"][0]["seconds"] == 300 and sites["UDN02"]["floor"][0]["closed"] == "released"
    assert body["speakers"] == [{"code": "UDN02", "name_th": "กุดจับ", "seconds": 300}]
    assert sites["UDN09"]["presence"] == "absent" and sites["UDN09"]["intervals"] == []
    assert sites["UDN01"]["intervals"][0]["closed"] == "ended" and sites["UDN01"]["seconds"] == 1800
    with pytest.raises(m.ReportError):
        build_briefing(engine, settings, 99999)
