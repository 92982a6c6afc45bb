"""Turning a built report into files: HTML (the preview and the PDF's source), PDF, XLSX, CSV, JSON.

One jinja2 environment on ``templates/reports/`` serves the page preview,
the PDF and the CLI alike (no web app needed to render).

The heavy renderers load at their first use, not when the hub starts:
WeasyPrint (:mod:`hub.reports.pdf`, ~45 MB resident), matplotlib
(:mod:`hub.reports.charts`, ~55 MB) and openpyxl (:mod:`hub.reports.xlsxout`,
~35 MB) are needed once a month by the job or when someone asks for a file;
the imports below the functions say so where they happen.

A report with more than :data:`STATEMENTS_MAX` districts (a national roll-up)
is a summary in PDF: the totals, the sum of the lines, and the charts of the
districts that need attention. It leaves out the one-page district statements
(878 statement pages are the districts' paperwork, which each province's own
monthly report carries) and the every-district table (~150 landscape pages;
WeasyPrint took ~2 minutes over it), which the HTML, XLSX and CSV of the same
report carry in full. A province's report (up to 100 districts) has it all.
"""

from __future__ import annotations

import functools
import json
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
import markupsafe

from hub.paths import templates_dir
from hub.reports import csvout
from hub.reports import model as m
from hub.reports.labels import LABELS, label

STATEMENTS_MAX = 100

MIME = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "json": "application/json",
}

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(templates_dir() / "reports")),
    autoescape=jinja2.select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _pct(value: Decimal | float | None, places: int = 2) -> str:
    return "—" if value is None else f"{float(value):.{places}f}"


def _rate_pct(rate: Decimal) -> str:
    """0.0700 → '7', 0.0725 → '7.25' (Decimal's %g keeps the stored trailing zeros)."""
    text = format(rate * 100, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _dec(value: Decimal | None) -> str:
    return "—" if value is None else m.format_thb(value)


_env.filters.update(thb=_dec, pct=_pct)


def district_name(d: m.District, lang: str) -> str:
    return d.name_th if lang == "th" else d.name_en


def line_json(line: m.DistrictLine) -> dict[str, Any]:
    d, c, lk = line.district, line.charge, line.link
    return {
        "code": d.code, "name_th": d.name_th, "name_en": d.name_en,
        "fee": str(c.fee), "vat": str(c.vat), "total": str(c.total),
        "days_billed": c.days_billed, "days_in_month": c.days_in_month, "prorated": c.prorated,
        "parts": [{"first": p.first.isoformat(), "last": p.last.isoformat(), "days": p.days,
                   "monthly_fee": str(p.monthly_fee), "vat_rate": str(p.vat_rate), "fee": str(p.fee)}
                  for p in c.parts],
        "total_words_th": m.baht_text(c.total),
        "scheduled": line.scheduled, "on_time": line.on_time, "late": line.late,
        "left_early": line.left_early, "absent": line.absent,
        "minutes_connected": line.minutes_connected, "minutes_floor": line.minutes_floor,
        "availability_pct": str(lk.availability_pct) if lk.availability_pct is not None else None,
        "hub_check_pct": str(lk.hub_check_pct) if lk.hub_check_pct is not None else None,
        "minutes_billed": lk.minutes_billed, "minutes_green": lk.minutes_green, "minutes_amber": lk.minutes_amber,
        "minutes_red": lk.minutes_red, "minutes_down": lk.minutes_down,
        "rtt_median_ms": lk.rtt_median_ms, "loss_pct": lk.loss_pct,
        "p95_down_pct": m.utilisation_pct(lk.p95_down_bps, d.plan_down_mbps),
        "p95_up_pct": m.utilisation_pct(lk.p95_up_bps, d.plan_up_mbps),
        "cost_per_hour": str(line.cost_per_hour) if line.cost_per_hour is not None else None,
        "saving_thb": str(line.saving.thb), "person_hours": str(line.saving.person_hours),
    }


def totals_json(t: m.Totals | None) -> dict[str, Any] | None:
    if t is None:
        return None
    return {"fee": str(t.fee), "vat": str(t.vat), "total": str(t.total), "scheduled": t.scheduled,
            "attended": t.attended, "absent": t.absent, "minutes_connected": t.minutes_connected,
            "saving_thb": str(t.saving_thb), "person_hours": str(t.person_hours),
            "availability_pct": str(t.availability_pct) if t.availability_pct is not None else None,
            "attendance_pct": str(t.attendance_pct) if t.attendance_pct is not None else None}


def report_json(r: m.MonthlyReport) -> dict[str, Any]:
    ch = r.change
    return {
        "month": str(r.month), "month_th": r.month.label("th"), "month_en": r.month.label("en"),
        "province_th": r.province_th, "province_en": r.province_en, "generated_at": r.generated_at.isoformat(),
        "districts": [line_json(line) for line in r.lines],
        "totals": totals_json(r.totals), "previous": totals_json(r.previous),
        "change": {"total": str(ch.total) if ch.total is not None else None,
                   "total_pct": str(ch.total_pct) if ch.total_pct is not None else None,
                   "attended": ch.attended,
                   "saving_thb": str(ch.saving_thb) if ch.saving_thb is not None else None},
        "total_words_th": m.baht_text(r.totals.total),
        "briefings": len(r.briefings),
    }


@functools.lru_cache(maxsize=4)
def _charts(lines: tuple[m.DistrictLine, ...], lang: str) -> dict[str, str]:
    """Drawn once per report and language: the preview, the PDF and the mail all reuse them."""
    # matplotlib at the first chart, not at hub start (module docstring).
    from hub.reports import charts

    return {
        "attendance": charts.attendance_chart(lines, lang),
        "availability": charts.availability_chart(lines, lang),
        "cost": charts.cost_saving_chart(lines, lang),
    }


def html_context(r: m.MonthlyReport, lang: str, tz: str, *, for_pdf: bool) -> dict[str, Any]:
    lines = list(r.lines)
    return {
        "r": r, "lang": lang, "L": {k: (th if lang == "th" else en) for k, (th, en) in LABELS.items()},
        "lines": lines, "j": report_json(r), "for_pdf": for_pdf,
        "name": lambda d: district_name(d, lang),
        "date": lambda d: m.thai_date(d, lang),
        "words": m.baht_text,
        "generated": m.thai_date(r.generated_at.astimezone(ZoneInfo(tz)).date(), lang)
        + r.generated_at.astimezone(ZoneInfo(tz)).strftime(" %H:%M"),
        "util": m.utilisation_pct,
        "rule_saving": label("rule_saving", lang).format(rate=r.rules.travel_rate_thb_per_km,
                                                         people=r.rules.people_per_district),
        "charts": _charts(r.lines, lang) if lines else {},
        "statements": lines if len(lines) <= STATEMENTS_MAX else [],
        "statements_note": "" if len(lines) <= STATEMENTS_MAX else label("statements_elsewhere", lang).format(
            n=len(lines)),
        # A national PDF is the summary: its every-district table (~150 landscape pages, minutes of layout)
        # is in the HTML, XLSX and CSV of the same report.
        "table_lines": lines if not for_pdf or len(lines) <= STATEMENTS_MAX else [],
        "table_note": "" if not for_pdf or len(lines) <= STATEMENTS_MAX else label("table_elsewhere", lang).format(
            n=len(lines)),
        "rate_text": lambda p: label("rate_period", lang).format(
            fee=m.format_thb(p.monthly_fee), vat=_rate_pct(p.vat_rate), first=m.thai_date(p.first, lang),
            last=m.thai_date(p.last, lang), days=p.days),
    }


def render_html(r: m.MonthlyReport, lang: str, tz: str = "Asia/Bangkok", *, for_pdf: bool = False) -> str:
    return _env.get_template("monthly.html").render(**html_context(r, lang, tz, for_pdf=for_pdf))


def filename(r: m.MonthlyReport, fmt: str) -> str:
    return f"salaklang-monthly-{r.month}.{fmt}"


def render_monthly(r: m.MonthlyReport, fmt: str, lang: str, tz: str = "Asia/Bangkok") -> tuple[bytes, str, str]:
    """(content, MIME type, file name) of the report in ``fmt``."""
    if fmt == "html":
        body = render_html(r, lang, tz).encode("utf-8")
    elif fmt == "pdf":
        # WeasyPrint at the first PDF, not at hub start (module docstring).
        from hub.reports import pdf

        body = pdf.html_to_pdf(render_html(r, lang, tz, for_pdf=True))
    elif fmt == "xlsx":
        from hub.reports import xlsxout  # openpyxl at the first workbook, not at hub start

        body = xlsxout.monthly_xlsx(r, lang)
    elif fmt == "csv":
        body = csvout.monthly_csv(r, lang)
    elif fmt == "json":
        body = json.dumps(report_json(r), ensure_ascii=False, indent=1).encode("utf-8")
    else:
        raise m.ReportError(f"รูปแบบไม่รู้จัก / unknown format {fmt!r} (pdf, xlsx, csv, html, json)", "format")
    return body, MIME[fmt], filename(r, fmt)


def render_series_html(grid: Any, lang: str) -> str:
    return _env.get_template("series.html").render(
        g=grid, lang=lang, L={k: (th if lang == "th" else en) for k, (th, en) in LABELS.items()},
        name=lambda d: district_name(d, lang), day=lambda d: m.thai_short_date(d, lang))


def mail_body(r: m.MonthlyReport, lang: str) -> tuple[str, str, str]:
    """Subject, text and HTML of the mail that carries the monthly files."""
    t = r.totals
    if lang == "th":
        subject = f"รายงานค่าใช้จ่ายระบบประชุมทางไกล ประจำเดือน{r.month.label('th')}"
        text = (f"เรียน ฝ่ายการเงิน\n\nรายงานประจำเดือน{r.month.label('th')} {r.province_th}\n"
                f"ค่าบริการ {m.format_thb(t.fee)} บาท ภาษีมูลค่าเพิ่ม {m.format_thb(t.vat)} บาท "
                f"รวม {m.format_thb(t.total)} บาท ({m.baht_text(t.total)})\n"
                f"ค่าเดินทางที่ประหยัดได้ {m.format_thb(t.saving_thb)} บาท\n\n"
                "แนบไฟล์ PDF, XLSX และ CSV\n")
    else:
        subject = f"Video-briefing cost report, {r.month.label('en')}"
        text = (f"Monthly report for {r.month.label('en')}, {r.province_en}\n"
                f"Fee {m.format_thb(t.fee)} THB, VAT {m.format_thb(t.vat)} THB, total {m.format_thb(t.total)} THB\n"
                f"Travel saved {m.format_thb(t.saving_thb)} THB\n\nPDF, XLSX and CSV attached.\n")
    html = "<html><body><pre style=\"font-family: sans-serif\">" + markupsafe.escape(text) + "</pre></body></html>"
    return subject, text, str(html)
