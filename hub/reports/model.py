"""The monthly report's arithmetic, pure: money, VAT, pro-rating, baht in words, p95, availability.

No I/O and no clock: the service passes in what was recorded and the times.
The rules printed on the report are the ones implemented here:

* Money is ``Decimal``. A month is priced by the days each tariff (fee and
  VAT rate, effective-dated in the inventory) was in force from the billing
  start: each part is ``monthly fee × days ÷ days in month`` rounded half-up
  to the satang; the fee line is the sum of the parts; VAT is the sum of
  ``part × rate``, rounded half-up to the satang once per district line;
  the total is fee + VAT. The province's figures are the sums of the lines.
* Availability counts the minutes the agent's probes found the link up
  (green, amber or red) out of the minutes billed in the month; an hour with
  no probe report at all counts as down (hub/linkhealth/rollup.py's rule).
* Utilisation is the 95th percentile of 5-minute average rates (LibreNMS's
  billing convention): sort the month's 5-minute values, drop the top 5 %,
  take the highest left (nearest rank), against the plan (200/80 Mbps).
* Saving: each briefing a district attended is a trip it did not make:
  distance × 2 × rate per km × people, and distance × 2 ÷ speed × people
  person-hours.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import numpy.typing as npt
from pythainlp.util import bahttext

from hub.attendance.model import BriefingAttendance, Presence, classify

SATANG = Decimal("0.01")
BE_OFFSET = 543
THAI_MONTHS = ("", "มกราคม", "กุมภาพันธ์", "มีนาคม", "เมษายน", "พฤษภาคม", "มิถุนายน", "กรกฎาคม",
               "สิงหาคม", "กันยายน", "ตุลาคม", "พฤศจิกายน", "ธันวาคม")
THAI_MONTHS_SHORT = ("", "ม.ค.", "ก.พ.", "มี.ค.", "เม.ย.", "พ.ค.", "มิ.ย.", "ก.ค.", "ส.ค.", "ก.ย.", "ต.ค.",
                     "พ.ย.", "ธ.ค.")
EN_MONTHS = ("", "January", "February", "March", "April", "May", "June", "July", "August", "September",
             "October", "November", "December")
FIVE_MIN_S = 300


class ReportError(ValueError):
    """Bad input to a report; ``field`` names what to fix."""

    def __init__(self, message: str, field: str = "month") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def round_satang(value: Decimal) -> Decimal:
    return value.quantize(SATANG, rounding=ROUND_HALF_UP)


def baht_text(amount: Decimal) -> str:
    """The amount in Thai words, as on a cheque: 1337.50 → หนึ่งพันสามร้อยสามสิบเจ็ดบาทห้าสิบสตางค์.

    PyThaiNLP takes a float; a satang-rounded amount below 10^12 is exact
    enough in a float for its own two-decimal rounding.
    """
    value = round_satang(amount)
    if value < 0:
        raise ValueError("a negative amount has no words on a statement")
    if value < 1 and value > 0:
        # "ห้าสิบสตางค์", not "ศูนย์บาทห้าสิบสตางค์": nothing is said for zero baht.
        return bahttext(float(value)).removeprefix("ศูนย์บาท")
    return str(bahttext(float(value)))


def format_thb(value: Decimal) -> str:
    return f"{round_satang(value):,.2f}"


# --- months ------------------------------------------------------------------------------------

_MONTH_RE = re.compile(r"^(\d{4})-(\d{1,2})$")


@dataclass(frozen=True, order=True)
class Month:
    year: int  # Common Era
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """``2018-04`` or its Buddhist Era form ``2561-04`` (a year from 2400 is BE)."""
        m = _MONTH_RE.match(text.strip()) if isinstance(text, str) else None
        if m is None:
            raise ReportError(f"เดือนไม่ถูกต้อง / not a month: {text!r} (use YYYY-MM, e.g. 2018-04 or 2561-04)")
        year, month = int(m.group(1)), int(m.group(2))
        if not 1 <= month <= 12:
            raise ReportError(f"เดือนไม่ถูกต้อง / month must be 01–12: {text!r}")
        if year >= 2400:
            year -= BE_OFFSET
        if not 1900 <= year <= 2300:
            raise ReportError(f"ปีไม่ถูกต้อง / year out of range: {text!r}")
        return cls(year, month)

    @property
    def first(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def days(self) -> int:
        return (self.next().first - self.first).days

    @property
    def last(self) -> date:
        return self.next().first - timedelta(days=1)

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def prev(self) -> Month:
        return Month(self.year - (self.month == 1), 12 if self.month == 1 else self.month - 1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def label(self, lang: str) -> str:
        if lang == "th":
            return f"{THAI_MONTHS[self.month]} {self.year + BE_OFFSET}"
        return f"{EN_MONTHS[self.month]} {self.year}"


def thai_date(d: date, lang: str = "th") -> str:
    """'16 พฤษภาคม 2561' (Buddhist Era) or '16 May 2018'."""
    if lang == "th":
        return f"{d.day} {THAI_MONTHS[d.month]} {d.year + BE_OFFSET}"
    return f"{d.day} {EN_MONTHS[d.month]} {d.year}"


def thai_short_date(d: date, lang: str = "th") -> str:
    if lang == "th":
        return f"{d.day} {THAI_MONTHS_SHORT[d.month]} {(d.year + BE_OFFSET) % 100:02d}"
    return f"{d.day} {EN_MONTHS[d.month][:3]}"


# --- money ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tariff:
    effective: date
    monthly_fee: Decimal  # excluding VAT
    vat_rate: Decimal


def tariff_timeline(
    billing_start: date, fee: Decimal, vat_rate: Decimal,
    fee_changes: Iterable[tuple[date, Decimal]] = (), vat_changes: Iterable[tuple[date, Decimal]] = (),
) -> tuple[Tariff, ...]:
    """Fee and VAT changes merged into periods: each tariff holds from its date to the next one's."""
    points: dict[date, tuple[Decimal | None, Decimal | None]] = {billing_start: (fee, vat_rate)}
    for d, f in fee_changes:
        points[d] = (f, points.get(d, (None, None))[1])
    for d, r in vat_changes:
        points[d] = (points.get(d, (None, None))[0], r)
    out: list[Tariff] = []
    cur_fee, cur_vat = fee, vat_rate
    for d in sorted(points):
        new_fee, new_vat = points[d]
        cur_fee = new_fee if new_fee is not None else cur_fee
        cur_vat = new_vat if new_vat is not None else cur_vat
        out.append(Tariff(d, cur_fee, cur_vat))
    return tuple(out)


@dataclass(frozen=True)
class ChargePart:
    first: date
    last: date
    days: int
    monthly_fee: Decimal
    vat_rate: Decimal
    fee: Decimal  # rounded to the satang


@dataclass(frozen=True)
class Charge:
    days_in_month: int
    days_billed: int
    parts: tuple[ChargePart, ...]
    fee: Decimal
    vat: Decimal

    @property
    def total(self) -> Decimal:
        return self.fee + self.vat

    @property
    def prorated(self) -> bool:
        return len(self.parts) != 1 or self.days_billed != self.days_in_month


def price_month(tariffs: Sequence[Tariff], month: Month) -> Charge:
    """The month's fee and VAT under ``tariffs`` (ascending by date); zero before the billing start."""
    parts: list[ChargePart] = []
    for i, t in enumerate(tariffs):
        end = tariffs[i + 1].effective if i + 1 < len(tariffs) else month.next().first
        first, stop = max(t.effective, month.first), min(end, month.next().first)
        days = (stop - first).days
        if days <= 0:
            continue
        fee = round_satang(t.monthly_fee * days / month.days)
        parts.append(ChargePart(first, stop - timedelta(days=1), days, t.monthly_fee, t.vat_rate, fee))
    fee_total = sum((p.fee for p in parts), Decimal("0.00"))
    vat = round_satang(sum((p.fee * p.vat_rate for p in parts), Decimal("0")))
    return Charge(month.days, sum(p.days for p in parts), tuple(parts), fee_total, vat)


# --- link figures --------------------------------------------------------------------------------


def nearest_rank(sorted_values: Sequence[float], pct: float) -> float | None:
    if not sorted_values:
        return None
    return sorted_values[max(1, math.ceil(pct / 100.0 * len(sorted_values))) - 1]


def five_minute_p95(samples: Iterable[tuple[float, float | None]]) -> tuple[float | None, int]:
    """95th percentile of 5-minute averages of (epoch seconds, bits/s); returns (value, buckets)."""
    pairs = [(ts, bps) for ts, bps in samples if bps is not None]
    return p95_of_arrays(np.array([ts for ts, _ in pairs], dtype=np.float64),
                         np.array([bps for _, bps in pairs], dtype=np.float64))


def p95_of_arrays(ts: npt.NDArray[np.float64], bps: npt.NDArray[np.float64]) -> tuple[float | None, int]:
    """:func:`five_minute_p95` over column arrays (NaN = no value), as the report reads a month of samples.

    A month is ~8,640 buckets per district; numpy groups them by 5-minute index
    (a stable sort, then the run boundaries). A bucket of one sample is that
    sample; a bucket of several is ``statistics.fmean`` of them, exactly as the
    row-by-row rule computes it, so the figure does not move by a rounding.
    """
    keep = ~np.isnan(bps)
    ts, bps = ts[keep], bps[keep]
    if ts.size == 0:
        return None, 0
    index = np.floor_divide(ts, FIVE_MIN_S)
    order = np.argsort(index, kind="stable")
    index, bps = index[order], bps[order]
    starts = np.flatnonzero(np.r_[True, index[1:] != index[:-1]])
    counts = np.diff(np.r_[starts, index.size])
    means = bps[starts].copy()
    for k in np.flatnonzero(counts > 1):
        means[k] = statistics.fmean(bps[starts[k]:starts[k] + counts[k]].tolist())
    means.sort()
    rank = max(1, math.ceil(95 / 100.0 * means.size)) - 1
    return float(means[rank]), int(means.size)


def utilisation_pct(bps: float | None, plan_mbps: int) -> float | None:
    if bps is None or plan_mbps <= 0:
        return None
    return round(bps / (plan_mbps * 1_000_000) * 100.0, 2)


@dataclass(frozen=True)
class LinkMonth:
    """What the link did in the billed part of the month."""

    minutes_billed: int
    minutes_green: int
    minutes_amber: int
    minutes_red: int
    rtt_median_ms: float | None
    probes_sent: int
    probes_lost: int
    p95_down_bps: float | None
    p95_up_bps: float | None
    hub_polls: int
    hub_polls_up: int

    @property
    def minutes_up(self) -> int:
        return self.minutes_green + self.minutes_amber + self.minutes_red

    @property
    def minutes_down(self) -> int:
        return max(0, self.minutes_billed - self.minutes_up)

    @property
    def availability_pct(self) -> Decimal | None:
        if self.minutes_billed <= 0:
            return None
        return (Decimal(self.minutes_up) * 100 / Decimal(self.minutes_billed)).quantize(
            SATANG, rounding=ROUND_HALF_UP)

    @property
    def hub_check_pct(self) -> Decimal | None:
        if self.hub_polls <= 0:
            return None
        return (Decimal(self.hub_polls_up) * 100 / Decimal(self.hub_polls)).quantize(SATANG, rounding=ROUND_HALF_UP)

    @property
    def loss_pct(self) -> float | None:
        return round(self.probes_lost * 100.0 / self.probes_sent, 3) if self.probes_sent else None


# --- briefings and attendance -------------------------------------------------------------------


@dataclass(frozen=True)
class Briefing:
    occurrence_id: int
    title: str
    starts_at: datetime
    ends_at: datetime
    districts: tuple[str, ...]


@dataclass(frozen=True)
class Interval:
    occurrence_id: int | None
    site: str
    start: datetime
    end: datetime
    closed: str | None


@dataclass(frozen=True)
class Rules:
    travel_rate_thb_per_km: Decimal
    people_per_district: int
    travel_speed_kmh: Decimal
    late_after: timedelta
    early_before: timedelta


@dataclass(frozen=True)
class Saving:
    trips: int
    thb: Decimal
    person_hours: Decimal


def travel_saving(distance_km: float | None, trips: int, rules: Rules) -> Saving:
    if not distance_km or trips <= 0:
        return Saving(trips, Decimal("0.00"), Decimal("0.0"))
    km = Decimal(str(distance_km)) * 2 * trips
    thb = round_satang(km * rules.travel_rate_thb_per_km * rules.people_per_district)
    hours = (km / rules.travel_speed_kmh * rules.people_per_district).quantize(Decimal("0.1"), ROUND_HALF_UP)
    return Saving(trips, thb, hours)


def attendance_of(
    briefing: Briefing, site: str, intervals: Sequence[Interval], rules: Rules,
) -> BriefingAttendance:
    spans = [(i.start, i.end, i.closed) for i in intervals
             if i.site == site and i.occurrence_id == briefing.occurrence_id]
    return classify(spans, briefing.starts_at, briefing.ends_at, rules.late_after, rules.early_before)


def grid_cell(a: BriefingAttendance) -> str:
    """The series grid's word for one district on one day: absent, dropped, late or on_time."""
    if a.presence is Presence.ABSENT:
        return "absent"
    if a.dropped or a.left_early:
        return "dropped"
    return a.presence.value


# --- one district's month ------------------------------------------------------------------------


@dataclass(frozen=True)
class District:
    code: str
    name_th: str
    name_en: str
    distance_km: float | None
    provider: str
    plan_down_mbps: int
    plan_up_mbps: int
    billed_to: str
    billing_start: date
    tariffs: tuple[Tariff, ...]


@dataclass(frozen=True)
class DistrictLine:
    district: District
    charge: Charge
    scheduled: int
    on_time: int
    late: int
    left_early: int
    absent: int
    minutes_connected: int
    minutes_floor: int
    link: LinkMonth
    saving: Saving

    @property
    def attended(self) -> int:
        return self.on_time + self.late

    @property
    def cost_per_hour(self) -> Decimal | None:
        if self.minutes_connected <= 0:
            return None
        return round_satang(self.charge.total * 60 / self.minutes_connected)


def minutes_of(seconds: float) -> int:
    return int(Decimal(str(seconds)) / 60 + Decimal("0.5"))  # nearest minute, half up


def district_line(
    district: District, month: Month, briefings: Sequence[Briefing], intervals: Sequence[Interval],
    floors: Sequence[Interval], link: LinkMonth, rules: Rules,
) -> DistrictLine:
    mine = [b for b in briefings if district.code in b.districts]
    counts = {"on_time": 0, "late": 0, "absent": 0, "left_early": 0}
    connected_s = 0.0
    for b in mine:
        a = attendance_of(b, district.code, intervals, rules)
        counts[a.presence.value] += 1
        counts["left_early"] += a.left_early
        connected_s += a.seconds
    floor_s = sum((f.end - f.start).total_seconds() for f in floors
                  if f.site == district.code and any(f.occurrence_id == b.occurrence_id for b in mine))
    attended = counts["on_time"] + counts["late"]
    return DistrictLine(
        district=district, charge=price_month(district.tariffs, month), scheduled=len(mine),
        on_time=counts["on_time"], late=counts["late"], left_early=counts["left_early"],
        absent=counts["absent"], minutes_connected=minutes_of(connected_s), minutes_floor=minutes_of(floor_s),
        link=link, saving=travel_saving(district.distance_km, attended, rules),
    )


@dataclass(frozen=True)
class Totals:
    fee: Decimal
    vat: Decimal
    total: Decimal
    scheduled: int
    attended: int
    absent: int
    minutes_connected: int
    saving_thb: Decimal
    person_hours: Decimal
    availability_pct: Decimal | None

    @property
    def attendance_pct(self) -> Decimal | None:
        if self.scheduled <= 0:
            return None
        return (Decimal(self.attended) * 100 / Decimal(self.scheduled)).quantize(SATANG, ROUND_HALF_UP)


def totals_of(lines: Sequence[DistrictLine]) -> Totals:
    """Sums of the district lines (never recomputed from a province-wide fee)."""
    billed = sum(line.link.minutes_billed for line in lines)
    up = sum(line.link.minutes_up for line in lines)
    return Totals(
        fee=sum((line.charge.fee for line in lines), Decimal("0.00")),
        vat=sum((line.charge.vat for line in lines), Decimal("0.00")),
        total=sum((line.charge.total for line in lines), Decimal("0.00")),
        scheduled=sum(line.scheduled for line in lines),
        attended=sum(line.attended for line in lines),
        absent=sum(line.absent for line in lines),
        minutes_connected=sum(line.minutes_connected for line in lines),
        saving_thb=sum((line.saving.thb for line in lines), Decimal("0.00")),
        person_hours=sum((line.saving.person_hours for line in lines), Decimal("0.0")),
        availability_pct=(Decimal(up) * 100 / Decimal(billed)).quantize(SATANG, ROUND_HALF_UP) if billed else None,
    )


@dataclass(frozen=True)
class Change:
    """This month against the previous one."""

    total: Decimal | None
    total_pct: Decimal | None
    attended: int | None
    saving_thb: Decimal | None


def change_of(now: Totals, before: Totals | None) -> Change:
    if before is None:
        return Change(None, None, None, None)
    pct = ((now.total - before.total) * 100 / before.total).quantize(Decimal("0.1"), ROUND_HALF_UP) \
        if before.total else None
    return Change(now.total - before.total, pct, now.attended - before.attended, now.saving_thb - before.saving_thb)


@dataclass(frozen=True)
class MonthlyReport:
    month: Month
    province_th: str
    province_en: str
    generated_at: datetime
    lines: tuple[DistrictLine, ...]
    totals: Totals
    previous: Totals | None
    change: Change
    rules: Rules
    briefings: tuple[Briefing, ...] = field(default=())


def billed_window(district: District, month: Month) -> tuple[date, date] | None:
    """First and last day of the month the district is billed for, or None before its start."""
    first = max(month.first, district.billing_start)
    return (first, month.last) if first <= month.last else None
