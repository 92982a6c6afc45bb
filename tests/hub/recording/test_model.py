"""The recording room's pure rules: file names, when to record, what clean-up may delete, the errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.recording.model import expired, file_stem, refusal, should_record, slug


def test_file_names_by_series_date_and_bangkok_time() -> None:
    at = datetime(2026, 12, 1, 1, 30, 5, tzinfo=UTC)  # 08:30:05 in Bangkok
    assert file_stem("ประชุมประจำสัปดาห์ อำเภอเมือง", at) == "ประชุมประจำสัปดาห์-อำเภอเมือง_2026-12-01_083005"
    assert file_stem("Weekly / briefing", at, part=2) == "Weekly-briefing_2026-12-01_083005-part2"
    late = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)  # already the 2nd in Bangkok
    assert file_stem("x", late).endswith("_2026-12-02_000000")
    with pytest.raises(ValueError):
        file_stem("x", datetime(2026, 12, 1, 1, 0))  # naive: refused


@pytest.mark.parametrize("title", ["../../etc/passwd", "a/b\\c", "..", "   ", "\x00evil", "C:\\win.ini"])
def test_titles_never_make_a_path(title: str) -> None:
    s = slug(title)
    assert s and "/" not in s and "\\" not in s and "." not in s and "\x00" not in s and s != ".."


def test_auto_recording_rule() -> None:
    assert should_record(True, True, False)
    assert not should_record(True, True, True)  # never a confidential briefing
    assert not should_record(True, False, False)  # the series turned it off
    assert not should_record(True, None, False)  # an ad-hoc conference: only by an operator
    assert not should_record(False, True, False)  # the hub setting turned it off


def test_retention_never_takes_a_held_or_running_recording() -> None:
    now = datetime(2027, 1, 1, tzinfo=UTC)
    old = now - timedelta(days=400)
    assert expired(old, 365, now, legal_hold=False)
    assert not expired(old, 365, now, legal_hold=True)
    assert not expired(now - timedelta(days=10), 365, now, legal_hold=False)
    assert not expired(None, 365, now, legal_hold=False)


def test_refusals_are_thai_first_then_english() -> None:
    r = refusal("held")
    assert r.status == 409 and r.message.startswith(r.th) and r.message.endswith(r.en)
    assert any("\u0e00" <= ch <= "\u0e7f" for ch in r.th)
