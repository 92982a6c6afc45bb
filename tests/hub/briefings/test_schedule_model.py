"""The pure series model: expansion, exceptions, validation, timeline states, Thai dates."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from hub.briefings.model import (
    SONGKRAN_TITLE,
    Booking,
    IllegalTransition,
    Leads,
    OccState,
    Recurrence,
    SeriesError,
    Step,
    advance,
    check_overlaps,
    format_thai_date,
    is_late,
    is_missed,
    move_occurrence,
    occurrences,
    parse_series,
    skip_occurrence,
    songkran_preset,
    songkran_year,
    spec_from_json,
    step_is_stale,
    step_times,
)

BKK = ZoneInfo("Asia/Bangkok")
KNOWN = [f"UDN{i:02d}" for i in range(1, 21)]


def raw(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "title": "ประชุมประจำวัน",
        "organizer_email": "po@udon.example",
        "districts": ["UDN01", "UDN02"],
        "start_date": "2027-04-12",
        "end_date": "2027-04-18",
        "start_time": "09:00",
        "duration_min": 30,
        "recurrence": "daily",
    }
    base.update(over)
    return base


def test_songkran_preset_is_seven_mornings_for_every_district() -> None:
    spec = parse_series(songkran_preset(year=2027, districts=KNOWN, organizer_email="po@udon.example"),
                        known_districts=KNOWN)
    occ = occurrences(spec)
    assert spec.title == SONGKRAN_TITLE
    assert spec.districts == tuple(KNOWN)
    assert [o.key for o in occ] == [date(2027, 4, d) for d in range(12, 19)]
    for o in occ:
        local = o.start.astimezone(BKK)
        assert (local.hour, local.minute) == (9, 0)
        assert o.start.tzinfo is UTC and o.start.hour == 2  # stored in UTC
        assert o.end - o.start == timedelta(minutes=30)


def test_songkran_year_rolls_over_after_the_week() -> None:
    assert songkran_year(date(2026, 11, 20)) == 2027
    assert songkran_year(date(2027, 4, 18)) == 2027
    assert songkran_year(date(2027, 1, 2)) == 2027


def test_once_weekdays_weekly() -> None:
    once = parse_series(raw(recurrence="once", end_date=None), known_districts=KNOWN)
    assert [o.key for o in occurrences(once)] == [date(2027, 4, 12)]
    # 2027-04-12 is a Monday; Mon/Wed/Fri for two weeks
    wd = parse_series(raw(recurrence="weekdays", weekdays=[0, 2, 4], end_date="2027-04-25"), known_districts=KNOWN)
    assert [o.key.day for o in occurrences(wd)] == [12, 14, 16, 19, 21, 23]
    weekly = parse_series(raw(recurrence="weekly", end_date="2027-05-10"), known_districts=KNOWN)
    assert [o.key for o in occurrences(weekly)] == [date(2027, 4, 12) + timedelta(weeks=i) for i in range(5)]
    assert weekly.recurrence is Recurrence.WEEKLY


def test_skip_and_move() -> None:
    spec = parse_series(raw(), known_districts=KNOWN)
    spec = skip_occurrence(spec, date(2027, 4, 14))
    spec = move_occurrence(spec, date(2027, 4, 15), datetime(2027, 4, 15, 13, 30, tzinfo=BKK))
    occ = {o.key: o for o in occurrences(spec)}
    assert date(2027, 4, 14) not in occ
    moved = occ[date(2027, 4, 15)]
    assert moved.moved and moved.start.astimezone(BKK).time() == time(13, 30)
    assert moved.original_start == datetime(2027, 4, 15, 2, 0, tzinfo=UTC)
    with pytest.raises(SeriesError) as err:
        skip_occurrence(spec, date(2027, 4, 14))  # already skipped
    assert err.value.field == "date"
    with pytest.raises(SeriesError):
        skip_occurrence(spec, date(2027, 5, 1))
    # the stored form round-trips
    assert occurrences(spec_from_json(spec.to_json())) == occurrences(spec)


def test_exceptions_in_input() -> None:
    spec = parse_series(raw(exceptions={"skip": ["2027-04-13"], "move": {"2027-04-16": "2027-04-16T08:00"}}),
                        known_districts=KNOWN)
    keys = [o.key.day for o in occurrences(spec)]
    assert 13 not in keys and len(keys) == 6
    with pytest.raises(SeriesError) as err:
        parse_series(raw(exceptions={"skip": ["2027-05-13"]}), known_districts=KNOWN)
    assert err.value.field == "exceptions.skip"


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"end_date": "2027-04-11"}, "end_date"),  # end before start
        ({"end_date": "2028-04-13"}, "end_date"),  # more than 366 days
        ({"districts": ["UDN99"]}, "districts"),  # unknown district
        ({"districts": []}, "districts"),  # no districts
        ({"districts": None}, "districts"),
        ({"organizer_email": "po@@udon"}, "organizer_email"),  # malformed
        ({"organizer_email": "not an address"}, "organizer_email"),
        ({"attendees": ["ok@udon.example", "bad@"]}, "attendees"),
        ({"duration_min": 0}, "duration_min"),  # ends before it starts
        ({"duration_min": -5}, "duration_min"),
        ({"start_time": "25:00"}, "start_time"),
        ({"start_date": "12/04/2027"}, "start_date"),
        ({"recurrence": "hourly"}, "recurrence"),
        ({"recurrence": "weekdays", "weekdays": [7]}, "weekdays"),
        ({"layout": "9x9"}, "layout"),
        ({"title": ""}, "title"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_input_names_the_field(over: dict[str, Any], field: str) -> None:
    with pytest.raises(SeriesError) as err:
        parse_series(raw(**over), known_districts=KNOWN)
    assert err.value.field == field
    body = err.value.to_json()
    assert body["field"] == field and " / " in body["error"]  # Thai / English


def test_range_of_exactly_366_days_is_allowed() -> None:
    parse_series(raw(start_date="2027-01-01", end_date="2028-01-02", recurrence="weekly"), known_districts=KNOWN)


def test_overlap_with_another_series_for_the_same_district() -> None:
    spec = parse_series(raw(), known_districts=KNOWN)
    busy = Booking(7, "อื่น", frozenset({"UDN02", "UDN05"}),
                   datetime(2027, 4, 13, 2, 15, tzinfo=UTC), datetime(2027, 4, 13, 3, 0, tzinfo=UTC))
    with pytest.raises(SeriesError) as err:
        check_overlaps(spec, [busy])
    assert err.value.field == "districts" and "UDN02" in err.value.message
    # another district, or right after: no conflict
    check_overlaps(spec, [Booking(7, "x", frozenset({"UDN05"}), busy.start, busy.end)])
    check_overlaps(spec, [Booking(7, "x", frozenset({"UDN02"}),
                                  datetime(2027, 4, 13, 2, 30, tzinfo=UTC),
                                  datetime(2027, 4, 13, 3, 0, tzinfo=UTC))])


def test_timeline_state_machine() -> None:
    s = OccState.SCHEDULED
    s = advance(s, "readiness")
    s = advance(s, "remind")
    s = advance(s, "open")
    assert s is OccState.OPEN
    with pytest.raises(IllegalTransition):
        advance(s, "open")  # opening twice is refused: the exactly-once guard
    with pytest.raises(IllegalTransition):
        advance(s, "miss")
    assert advance(s, "end") is OccState.ENDED
    for terminal in (OccState.ENDED, OccState.MISSED, OccState.CANCELLED):
        for event in ("readiness", "remind", "open", "end", "miss", "cancel"):
            with pytest.raises(IllegalTransition):
                advance(terminal, event)
    assert advance(OccState.SCHEDULED, "open") is OccState.OPEN  # steps may be skipped
    assert advance(OccState.REMINDED, "miss") is OccState.MISSED
    assert advance(OccState.READINESS, "cancel") is OccState.CANCELLED
    with pytest.raises(IllegalTransition):
        advance(OccState.REMINDED, "readiness")
    with pytest.raises(IllegalTransition):
        advance(OccState.SCHEDULED, "fly")


def test_step_times_and_grace() -> None:
    t0 = datetime(2027, 4, 12, 2, 0, tzinfo=UTC)
    times = step_times(t0, t0 + timedelta(minutes=30), Leads())
    assert times[Step.READINESS] == t0 - timedelta(minutes=15)
    assert times[Step.REMINDER] == t0 - timedelta(minutes=10)
    assert times[Step.OPEN] == t0 and times[Step.END] == t0 + timedelta(minutes=30)
    grace = timedelta(minutes=10)
    assert not is_missed(OccState.REMINDED, t0, t0 + timedelta(minutes=9), grace)
    assert is_missed(OccState.REMINDED, t0, t0 + timedelta(minutes=11), grace)
    assert not is_missed(OccState.OPEN, t0, t0 + timedelta(hours=1), grace)
    assert step_is_stale(Step.READINESS, t0, t0) and not step_is_stale(Step.OPEN, t0, t0 + grace)
    late = timedelta(minutes=2)
    assert not is_late(t0 + timedelta(minutes=1), t0, t0 + timedelta(minutes=5), late)
    assert is_late(t0 + timedelta(minutes=3), t0, t0 + timedelta(minutes=5), late)
    assert is_late(None, t0, t0 + timedelta(minutes=3), late)
    assert not is_late(None, t0, t0 + timedelta(minutes=1), late)


def test_buddhist_era_dates() -> None:
    assert format_thai_date(date(2027, 4, 12)) == "วันจันทร์ที่ 12 เมษายน 2570"
    assert format_thai_date(date(2026, 11, 20), weekday=False) == "20 พฤศจิกายน 2569"
