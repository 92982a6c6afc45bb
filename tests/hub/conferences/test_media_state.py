"""Per-district media truth (hub/conferences/media_state.py): states, stall rule, backoff, flapping alarm."""

from __future__ import annotations

from hub.conferences.media_state import SiteMedia, backoff_s


def test_states_follow_the_pictures() -> None:
    m = SiteMedia()
    assert m.set("connecting", 100.0)
    assert m.set("in_program", 101.0) and not m.set("in_program", 105.0) and m.since == 101.0
    m.stalled(110.0, age_s=2.5)
    assert m.state == "no_picture" and m.since == 107.5 and m.stall_since == 107.5
    assert m.reconnecting(111.0, "no picture") and m.attempt == 1 and m.since == 111.0
    assert not m.reconnecting(115.0, "ICE failed") and m.attempt == 2 and m.since == 111.0  # same episode
    m.set("in_program", 116.0)
    assert m.attempt == 0 and m.to_dict()["label_th"] == "อยู่ในรายการ"


def test_a_stall_rejoins_only_once_the_control_channel_has_proved_itself() -> None:
    m = SiteMedia(state="in_program", since=0.0)
    m.stalled(12.0, age_s=2.0)  # pictures stopped at 10
    m.control_seen(last_seen=9.0, now=12.0)  # nothing heard since: a full cut, wait
    assert not m.stall_needs_rejoin(20.0)
    m.control_seen(last_seen=20.5, now=21.0)  # the link is back (a heartbeat arrived)
    assert not m.stall_needs_rejoin(21.5)  # the old connection gets its chance to heal
    assert m.stall_needs_rejoin(22.5)


def test_backoff_and_flapping_alarm() -> None:
    assert [backoff_s(n) for n in (1, 2, 3, 4, 9)] == [0.5, 1.0, 2.0, 2.0, 2.0]
    m = SiteMedia(state="in_program")
    for t in (0.0, 60.0, 120.0):
        m.reconnecting(t, "x")
        m.set("in_program", t + 1)
        assert not m.flapping(t + 1)
    m.reconnecting(180.0, "x")
    assert m.flapping(180.0)  # a fourth reconnect inside five minutes
    m.set("in_program", 181.0)
    m.reconnecting(200.0, "x")
    assert not m.flapping(200.0)  # alarmed once per window
    assert not SiteMedia(reconnects=[0.0, 1.0, 2.0, 400.0]).flapping(400.0)  # old ones have left the window
