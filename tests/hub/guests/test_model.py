"""The pure rules of the guests room, with the time passed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.guests import model as m

T0 = datetime(2027, 4, 12, 2, 0, tzinfo=UTC)  # 09:00 in Bangkok
END = T0 + timedelta(minutes=30)


def test_window_opens_lead_before_and_closes_at_the_end() -> None:
    w = m.join_window(T0, END, timedelta(minutes=30))
    assert w.state(T0 - timedelta(minutes=31)) is m.WindowState.NOT_YET
    assert w.state(T0 - timedelta(minutes=30)) is m.WindowState.OPEN
    assert w.state(END - timedelta(seconds=1)) is m.WindowState.OPEN
    assert w.state(END) is m.WindowState.CLOSED
    assert w.state(T0, over=True) is m.WindowState.CLOSED  # ended early / cancelled


def test_opens_text_is_bangkok_time_and_buddhist_era() -> None:
    th, en = m.opens_text(T0 - timedelta(minutes=30), "Asia/Bangkok")
    assert th == "เปิดให้เข้าร่วมเวลา 08:30 น. วันจันทร์ที่ 12 เมษายน 2570"
    assert en == "Opens at 08:30 on Monday 12 April 2027"
    refusal = m.window_refusal(m.WindowState.NOT_YET, m.join_window(T0, END, timedelta(minutes=30)), "Asia/Bangkok")
    assert refusal is not None and refusal.status == 403 and "08:30" in refusal.th and "08:30" in refusal.en
    closed = m.window_refusal(m.WindowState.CLOSED, m.join_window(T0, END, timedelta(0)), "Asia/Bangkok")
    assert closed is not None and closed.status == 410
    assert m.window_refusal(m.WindowState.OPEN, m.join_window(T0, END, timedelta(0)), "Asia/Bangkok") is None


def test_passcode_as_typed_on_a_phone() -> None:
    assert m.normalize_passcode(" ๔๙๓ ๘๑๗ ") == "493817"
    assert m.normalize_passcode("493-817") == "493817"
    assert len(m.normalize_passcode("9" * 500)) == m.PASSCODE_MAX


POLICY = m.AttemptPolicy(per_address=3, per_briefing=5, window=timedelta(minutes=10))


def test_attempts_sliding_window_per_address() -> None:
    now = T0
    fails = [now - timedelta(minutes=9), now - timedelta(minutes=5), now - timedelta(minutes=1)]
    r = m.attempt_refusal(fails, fails, now, POLICY)
    assert r is not None and r.status == 429 and r.code == "too_many_attempts"
    assert r.retry_after_s == 60  # the oldest ages out one minute from now
    assert m.attempt_refusal(fails, fails, now + timedelta(minutes=1, seconds=1), POLICY) is None
    assert m.attempt_refusal(fails[1:], fails[1:], now, POLICY) is None
    old = [now - timedelta(minutes=11)] * 10  # outside the window: forgotten
    assert m.attempt_refusal(old, old, now, POLICY) is None


def test_attempts_per_briefing_across_addresses() -> None:
    now = T0
    everyone = [now - timedelta(seconds=s) for s in (10, 20, 30, 40, 50)]
    r = m.attempt_refusal([], everyone, now, POLICY)
    assert r is not None and "การประชุมนี้" in r.th and "briefing" in r.en
    assert r.retry_after_s == 550


def test_identity_markup_refused_and_whitespace_cleaned() -> None:
    ident = m.parse_identity("  สมหญิง   ใจดี\u200b ", "ปภ.จังหวัด")
    assert ident == m.Identity("สมหญิง ใจดี", "ปภ.จังหวัด")
    assert m.parse_identity("สมหญิง ใจดี", "x").key == m.parse_identity("สมหญิง  ใจดี", "X").key
    for name, org, field in (("<b>x</b>", "o", "name"), ("n", "a&lt;b", "organisation"), ("n", "", "organisation"),
                             ("javascript:alert(1)", "o", "name"), ("{{7*7}}", "o", "name"), ("x" * 101, "o", "name")):
        with pytest.raises(m.Refusal) as info:
            m.parse_identity(name, org)
        assert info.value.field == field and info.value.status == 400 and info.value.th and info.value.en
    # Ampersands and quotes in a real organisation's name are fine (escaped where shown)
    assert m.parse_identity("O'Neil", "AT&T \"Thailand\"").organisation == 'AT&T "Thailand"'


def test_lobby_transitions() -> None:
    S, E = m.GuestStatus, m.LobbyEvent
    assert m.lobby_next(S.WAITING, E.ADMIT) is S.ADMITTED
    assert m.lobby_next(S.WAITING, E.REFUSE) is S.REFUSED
    assert m.lobby_next(S.ADMITTED, E.REMOVE) is S.REMOVED
    assert m.lobby_next(S.ADMITTED, E.LEAVE) is S.LEFT
    assert m.lobby_next(S.WAITING, E.CLOSE) is S.REFUSED
    for status, event in ((S.REMOVED, E.ADMIT), (S.REMOVED, E.LEAVE), (S.LEFT, E.LEAVE), (S.ADMITTED, E.ADMIT)):
        with pytest.raises(m.Refusal) as info:
            m.lobby_next(status, event)
        assert info.value.status == 409


def test_where_a_joining_browser_lands() -> None:
    S, G, D = m.GuestStatus, m.LinkKind.GUEST, m.LinkKind.DISTRICT
    assert m.status_on_join(None, kind=G, admit_directly=False, closed=False) is S.WAITING
    assert m.status_on_join(None, kind=G, admit_directly=True, closed=False) is S.ADMITTED
    assert m.status_on_join(S.LEFT, kind=G, admit_directly=False, closed=False) is S.ADMITTED
    assert m.status_on_join(S.REFUSED, kind=G, admit_directly=False, closed=False) is S.WAITING
    assert m.status_on_join(None, kind=D, admit_directly=False, closed=True) is S.ADMITTED
    with pytest.raises(m.Refusal, match="removed"):
        m.status_on_join(S.REMOVED, kind=G, admit_directly=True, closed=False)
    with pytest.raises(m.Refusal) as info:
        m.status_on_join(None, kind=G, admit_directly=True, closed=True)
    assert info.value.code == "closed_to_guests"


def test_link_binding() -> None:
    guest = m.LinkBinding(7, m.LinkKind.GUEST, "")
    district = m.LinkBinding(7, m.LinkKind.DISTRICT, "UDN02")
    assert m.check_binding(guest, 7, "") is guest
    assert m.check_binding(district, 7, "UDN02") is district
    for binding, occ, code in ((None, 7, ""), (guest, 8, ""), (district, 7, "UDN01"), (guest, 7, "UDN02"),
                               (m.LinkBinding(7, m.LinkKind.GUEST, "UDN02"), 7, "UDN02")):
        with pytest.raises(m.Refusal) as info:
            m.check_binding(binding, occ, code)
        assert info.value.status == 404


def test_intervals_are_kept() -> None:
    a = m.open_interval([], T0)
    assert m.open_interval(a, T0 + timedelta(minutes=1)) == a  # already open
    b = m.close_interval(a, T0 + timedelta(minutes=5), "left")
    c = m.close_interval(m.open_interval(b, T0 + timedelta(minutes=7)), T0 + timedelta(minutes=9), "removed")
    assert [(i.start, i.end, i.reason) for i in c] == [
        (T0, T0 + timedelta(minutes=5), "left"), (T0 + timedelta(minutes=7), T0 + timedelta(minutes=9), "removed")]
