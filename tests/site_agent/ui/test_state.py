"""The pure UI state: colour, one sentence, notifications."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from site_agent.clerk.state import (
    Briefing,
    Colour,
    UiState,
    colour,
    floor_label,
    notices,
    status_sentence,
)

NOW = datetime(2026, 4, 12, 1, 52, tzinfo=UTC)  # 08:52 in Udon Thani
NINE = datetime(2026, 4, 12, 2, 0, tzinfo=UTC)


def test_colour_order() -> None:
    base = UiState(connected=True)
    assert colour(UiState()) is Colour.GREY
    assert colour(base) is Colour.GREEN
    assert colour(base.with_(link="degraded")) is Colour.AMBER
    assert colour(base.with_(in_briefing=True)) is Colour.BLUE
    assert colour(base.with_(selftest_ready=False)) is Colour.RED
    assert colour(base.with_(update_required="0.2.0")) is Colour.RED
    # A disconnected agent knows nothing else: grey wins.
    assert colour(UiState(connected=False, in_briefing=True, link="degraded")) is Colour.GREY


def test_sentence_thai_and_english() -> None:
    s = UiState(connected=True, briefings=(Briefing("ประชุมสงกรานต์", "Songkran briefing", NINE),))
    assert status_sentence(s, NOW, "th") == "พร้อมแล้ว ประชุมครั้งถัดไปเวลา 09:00 น."
    assert status_sentence(s, NOW, "en") == "Ready. Next briefing at 09:00."
    assert "เชื่อมต่อ" in status_sentence(UiState(), NOW, "th")
    bad = UiState(connected=True, selftest_ready=False, selftest_reasons_th=("✘ กล้อง: ไม่ผ่าน",))
    assert status_sentence(bad, NOW, "th") == "อุปกรณ์มีปัญหา: ✘ กล้อง: ไม่ผ่าน"
    assert "0.3.0" in status_sentence(UiState(connected=True, update_required="0.3.0"), NOW, "th")


def test_floor_label() -> None:
    s = UiState(connected=True, in_briefing=True)
    assert floor_label(s) == "ยกมือขอพูด"
    assert floor_label(s.with_(floor="queued", floor_position=3)) == "ยกมือแล้ว (ลำดับที่ 3)"
    assert floor_label(s.with_(floor="granted"), "en") == "You have the floor"


def test_notices_fire_once_each() -> None:
    b = Briefing("ประชุมสงกรานต์", "Songkran briefing", NINE, key="songkran-1")
    before = UiState(connected=True, briefings=(b,))
    # 20 minutes before: nothing; 8 minutes before: the reminder.
    assert notices(before, before, NINE - timedelta(minutes=20)) == []
    due = notices(before, before, NOW)
    assert [n.key for n in due] == ["reminder:songkran-1"]
    assert "09:00" in due[0].body_th
    assert notices(before, before, NOW, frozenset({"reminder:songkran-1"})) == []

    in_b = UiState(connected=True, in_briefing=True)
    granted = in_b.with_(floor="granted")
    titles = [n.title_th for n in notices(in_b, granted, NINE)]
    assert titles == ["จังหวัดให้ท่านพูดได้แล้ว"]
    assert [n.title_en for n in notices(in_b, in_b.with_(link="degraded"), NINE)] == ["Link degraded"]
    assert [n.key for n in notices(in_b, in_b.with_(update_waiting="0.2.0"), NINE)] == ["update:0.2.0"]
    # No change, no notice.
    assert notices(granted, granted, NINE) == []
