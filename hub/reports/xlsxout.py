"""The monthly report as XLSX (openpyxl): numbers as numbers, THB formats, frozen headers, a sheet per section."""

from __future__ import annotations

import io
from collections.abc import Sequence
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from hub.reports import model as m
from hub.reports.labels import label

THB = '#,##0.00 "฿"'
PCT = "0.00"
INT = "#,##0"
FONT = "TH Sarabun New"  # what Thai government offices have; Excel falls back when it is missing


def _num(v: Decimal | float | int | None) -> float | int | None:
    # openpyxl writes Decimal as a number too; float keeps the cell numeric in every reader.
    if v is None:
        return None
    return v if isinstance(v, int) else float(v)


def _sheet(ws: Worksheet, headers: Sequence[str], rows: Sequence[Sequence[object]], formats: Sequence[str]) -> None:
    ws.append(list(headers))
    for cell in ws[1]:
        cell.font = Font(name=FONT, bold=True)
    for row in rows:
        ws.append(list(row))
    for col, fmt in enumerate(formats, start=1):
        if fmt:
            for (cell,) in ws.iter_rows(min_row=2, min_col=col, max_col=col):
                cell.number_format = fmt
        ws.column_dimensions[get_column_letter(col)].width = max(10, min(40, len(headers[col - 1]) + 4))
    ws.freeze_panes = "C2"


def monthly_xlsx(r: m.MonthlyReport, lang: str) -> bytes:
    wb = Workbook()
    name = (lambda d: d.name_th) if lang == "th" else (lambda d: d.name_en)
    t = r.totals

    cost = wb.active
    assert cost is not None
    cost.title = "ค่าใช้จ่าย" if lang == "th" else "Cost"
    rows: list[list[object]] = [[ln.district.code, name(ln.district), ln.charge.days_billed, _num(ln.charge.fee),
                                 _num(ln.charge.vat), _num(ln.charge.total),
                                 _num(ln.cost_per_hour), _num(ln.saving.thb), _num(ln.saving.person_hours)]
                                for ln in r.lines]
    rows.append(["", label("province_total", lang), None, _num(t.fee), _num(t.vat), _num(t.total), None,
                 _num(t.saving_thb), _num(t.person_hours)])
    _sheet(cost, [label(k, lang) for k in ("code", "district", "days", "fee", "vat", "total", "cost_per_hour",
                                           "saving", "person_hours")],
           rows, ["", "", INT, THB, THB, THB, THB, THB, "0.0"])

    att = wb.create_sheet("การเข้าร่วม" if lang == "th" else "Attendance")
    _sheet(att, [label(k, lang) for k in ("code", "district", "scheduled", "on_time", "late", "left_early", "absent",
                                          "minutes_connected", "minutes_floor")],
           [[ln.district.code, name(ln.district), ln.scheduled, ln.on_time, ln.late, ln.left_early, ln.absent,
             ln.minutes_connected, ln.minutes_floor] for ln in r.lines],
           ["", "", INT, INT, INT, INT, INT, INT, INT])

    link = wb.create_sheet("สัญญาณ" if lang == "th" else "Link")
    _sheet(link, [label(k, lang) for k in ("code", "district", "availability", "hub_check", "minutes_green",
                                           "minutes_amber", "minutes_red", "minutes_down", "rtt", "loss",
                                           "p95_down", "p95_up")],
           [[ln.district.code, name(ln.district), _num(ln.link.availability_pct), _num(ln.link.hub_check_pct),
             ln.link.minutes_green, ln.link.minutes_amber, ln.link.minutes_red, ln.link.minutes_down,
             ln.link.rtt_median_ms, ln.link.loss_pct,
             m.utilisation_pct(ln.link.p95_down_bps, ln.district.plan_down_mbps),
             m.utilisation_pct(ln.link.p95_up_bps, ln.district.plan_up_mbps)] for ln in r.lines],
           ["", "", PCT, PCT, INT, INT, INT, INT, "0.0", "0.000", PCT, PCT])

    summary = wb.create_sheet("สรุป" if lang == "th" else "Summary", 0)
    prev = r.previous
    summary.append([label("title", lang), r.month.label(lang)])
    summary.append([label("month", lang), str(r.month)])
    summary.append([])
    summary.append(["", r.month.label(lang), label("previous", lang), label("change", lang)])
    for key, now, before in (("fee", t.fee, prev.fee if prev else None), ("vat", t.vat, prev.vat if prev else None),
                             ("total", t.total, prev.total if prev else None),
                             ("saving", t.saving_thb, prev.saving_thb if prev else None)):
        summary.append([label(key, lang), _num(now), _num(before), _num(now - before) if before is not None else None])
        for cell in summary[summary.max_row][1:]:
            cell.number_format = THB
    summary.append([label("amount_words", lang), m.baht_text(t.total)])
    summary.freeze_panes = "A5"
    summary.column_dimensions["A"].width = 34
    for col in "BCD":
        summary.column_dimensions[col].width = 18
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
