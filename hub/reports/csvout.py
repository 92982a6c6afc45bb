"""The monthly report as CSV: UTF-8 with a BOM, so Excel opens the Thai names correctly."""

from __future__ import annotations

import csv
import io

from hub.reports import model as m
from hub.reports.labels import label

COLUMNS = ("code", "district", "days", "fee", "vat", "total", "scheduled", "on_time", "late", "left_early",
           "absent", "minutes_connected", "minutes_floor", "availability", "minutes_green", "minutes_amber",
           "minutes_red", "minutes_down", "rtt", "loss", "p95_down", "p95_up", "cost_per_hour", "saving",
           "person_hours")


def _row(line: m.DistrictLine, lang: str) -> list[object]:
    d, c, lk = line.district, line.charge, line.link
    return [d.code, d.name_th if lang == "th" else d.name_en, c.days_billed, c.fee, c.vat, c.total,
            line.scheduled, line.on_time, line.late, line.left_early, line.absent, line.minutes_connected,
            line.minutes_floor, lk.availability_pct if lk.availability_pct is not None else "",
            lk.minutes_green, lk.minutes_amber, lk.minutes_red, lk.minutes_down,
            lk.rtt_median_ms if lk.rtt_median_ms is not None else "",
            lk.loss_pct if lk.loss_pct is not None else "",
            m.utilisation_pct(lk.p95_down_bps, d.plan_down_mbps) or "",
            m.utilisation_pct(lk.p95_up_bps, d.plan_up_mbps) or "",
            line.cost_per_hour if line.cost_per_hour is not None else "", line.saving.thb, line.saving.person_hours]


def monthly_csv(r: m.MonthlyReport, lang: str) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([label(c, lang) for c in COLUMNS])
    for line in r.lines:
        w.writerow(_row(line, lang))
    t = r.totals
    w.writerow(["", label("province_total", lang), "", t.fee, t.vat, t.total, t.scheduled, "", "", "", t.absent,
                t.minutes_connected, "", t.availability_pct if t.availability_pct is not None else "",
                "", "", "", "", "", "", "", "", "", t.saving_thb, t.person_hours])
    return buf.getvalue().encode("utf-8-sig")
