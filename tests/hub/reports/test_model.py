"""The report's arithmetic, checked against figures worked out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import pytest

from hub.attendance.model import Closed, Presence, classify, union_seconds
from hub.reports import model as m


def test_a_full_month_is_1250_plus_vat() -> None:
    charge = m.price_month(m.tariff_timeline(date(2018, 4, 1), D("1250.00"), D("0.07")), m.Month(2018, 4))
    assert (charge.fee, charge.vat, charge.total) == (D("1250.00"), D("87.50"), D("1337.50"))
    assert not charge.prorated
    assert m.baht_text(charge.total) == "หนึ่งพันสามร้อยสามสิบเจ็ดบาทห้าสิบสตางค์"


def test_partial_first_month_is_prorated_by_days() -> None:
    # from 10 April: 21 of 30 days → 1250 × 21 / 30 = 875.00; VAT 61.25
    charge = m.price_month(m.tariff_timeline(date(2018, 4, 10), D("1250.00"), D("0.07")), m.Month(2018, 4))
    assert (charge.days_billed, charge.fee, charge.vat, charge.total) == (21, D("875.00"), D("61.25"), D("936.25"))
    assert charge.prorated
    assert m.price_month(m.tariff_timeline(date(2018, 4, 10), D("1250"), D("0.07")), m.Month(2018, 3)).total == 0


def test_fee_change_on_the_16th_is_priced_by_days_in_force() -> None:
    # May: 15 days at 1250 → 604.838… → 604.84; 16 days at 1400 → 722.580… → 722.58
    # fee 1327.42; VAT 1327.42 × 0.07 = 92.9194 → 92.92; total 1420.34
    timeline = m.tariff_timeline(date(2018, 4, 1), D("1250.00"), D("0.07"), [(date(2018, 5, 16), D("1400.00"))])
    charge = m.price_month(timeline, m.Month(2018, 5))
    assert [p.fee for p in charge.parts] == [D("604.84"), D("722.58")]
    assert (charge.fee, charge.vat, charge.total) == (D("1327.42"), D("92.92"), D("1420.34"))


def test_vat_change_mid_month_uses_each_rate_for_its_days() -> None:
    # 1–15 June at 7 %, 16–30 at 10 %: 625.00 × 0.07 + 625.00 × 0.10 = 43.75 + 62.50 = 106.25
    timeline = m.tariff_timeline(date(2018, 4, 1), D("1250.00"), D("0.07"), (), [(date(2018, 6, 16), D("0.10"))])
    charge = m.price_month(timeline, m.Month(2018, 6))
    assert (charge.fee, charge.vat) == (D("1250.00"), D("106.25"))


def test_vat_rounds_half_up_to_the_satang() -> None:
    # 1250 × 1/30 = 41.666… → 41.67; × 0.07 = 2.9169 → 2.92; a fee of 0.50 × 0.07 = 0.035 → 0.04 (half up)
    assert m.price_month(m.tariff_timeline(date(2018, 4, 30), D("1250.00"), D("0.07")), m.Month(2018, 4)).vat == D("2.92")
    assert m.round_satang(D("0.035")) == D("0.04")


@pytest.mark.parametrize(("amount", "words"), [
    ("936.25", "เก้าร้อยสามสิบหกบาทยี่สิบห้าสตางค์"),
    ("26348.75", "สองหมื่นหกพันสามร้อยสี่สิบแปดบาทเจ็ดสิบห้าสตางค์"),
    ("1420.34", "หนึ่งพันสี่ร้อยยี่สิบบาทสามสิบสี่สตางค์"),
    ("21.00", "ยี่สิบเอ็ดบาทถ้วน"),
    ("0.50", "ห้าสิบสตางค์"),
    ("0.00", "ศูนย์บาทถ้วน"),
])
def test_baht_in_thai_words(amount: str, words: str) -> None:
    assert m.baht_text(D(amount)) == words


def test_months_in_both_eras_and_bad_ones() -> None:
    assert m.Month.parse("2561-04") == m.Month.parse("2018-04") == m.Month(2018, 4)
    assert m.Month(2018, 4).label("th") == "เมษายน 2561" and m.Month(2018, 4).label("en") == "April 2018"
    assert (m.Month(2018, 1).prev(), m.Month(2018, 12).next(), m.Month(2020, 2).days) == (
        m.Month(2017, 12), m.Month(2019, 1), 29)
    for bad in ("2018-13", "April", "2018/04", "18-04", "2018-00"):
        with pytest.raises(m.ReportError):
            m.Month.parse(bad)


def test_p95_drops_exactly_the_top_five_percent() -> None:
    t0 = datetime(2018, 4, 1, tzinfo=UTC).timestamp()

    def month(high: int) -> list[tuple[float, float | None]]:
        return [(t0 + i * 300 + 10, 150e6 if i < high else 20e6) for i in range(8640)]

    assert m.five_minute_p95(month(432)) == (20e6, 8640)  # 432 = 5 % of 8,640: all dropped
    assert m.five_minute_p95(month(433))[0] == 150e6  # one more and the 95th is a peak
    # two 1-minute samples in one 5-minute bucket count as their mean
    assert m.five_minute_p95([(t0 + 10, 10e6), (t0 + 70, 30e6)]) == (20e6, 1)
    assert m.utilisation_pct(20e6, 200) == 10.0


def test_attendance_from_intervals() -> None:
    start = datetime(2018, 4, 12, 2, 0, tzinfo=UTC)
    end = start + timedelta(minutes=30)
    late, early = timedelta(seconds=120), timedelta(seconds=300)
    on_time = classify([(start, end, Closed.ENDED)], start, end, late, early)
    assert (on_time.presence, on_time.left_early, on_time.seconds) == (Presence.ON_TIME, False, 1800)
    was_late = classify([(start + timedelta(minutes=5), end, Closed.ENDED)], start, end, late, early)
    assert was_late.presence is Presence.LATE and was_late.seconds == 1500
    left = classify([(start, start + timedelta(minutes=20), Closed.LEFT)], start, end, late, early)
    assert left.left_early and not left.dropped
    # dropped and came back: two intervals, union counted once
    back = classify([(start, start + timedelta(minutes=10), Closed.LINK_LOST),
                     (start + timedelta(minutes=12), end, Closed.ENDED)], start, end, late, early)
    assert back.dropped and not back.left_early and back.seconds == 28 * 60
    assert classify([], start, end, late, early).presence is Presence.ABSENT
    overlap = [(start, start + timedelta(minutes=20)), (start + timedelta(minutes=10), end)]
    assert union_seconds(overlap, start, end) == 1800
