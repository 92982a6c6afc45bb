"""Agenda mode: timed speaking order, driven by a clock value passed in."""

from __future__ import annotations

import pytest

from hub.conferences.agenda import Agenda, AgendaError, AgendaItem

ALL = {"UDN01", "UDN02", "UDN03", "UDN04"}


def _agenda() -> Agenda:
    return Agenda([AgendaItem("UDN01", 120), AgendaItem("UDN02", 60), AgendaItem("UDN03", 120),
                   AgendaItem("UDN04", 30)])


def test_walks_in_order_with_durations() -> None:
    ag = _agenda()
    step = ag.start(1000.0, ALL)
    assert (step.previous, step.current) == (None, "UDN01")
    assert ag.remaining(1000.0) == 120
    assert ag.tick(1119.0, ALL) is None
    assert ag.remaining(1119.0) == 1
    ticked = ag.tick(1120.0, ALL)
    assert ticked is not None and (ticked.previous, ticked.current) == ("UDN01", "UDN02")
    assert ag.remaining(1130.0) == 50  # UDN02 has 60 s
    ticked = ag.tick(1180.0, ALL)
    assert ticked is not None and ticked.current == "UDN03"
    ag.next(1200.0, ALL)
    step = ag.next(1201.0, ALL)
    assert step.done and step.current is None and ag.status == "done"
    assert ag.tick(5000.0, ALL) is None
    with pytest.raises(AgendaError):
        ag.next(5000.0, ALL)


def test_skips_offline() -> None:
    ag = _agenda()
    step = ag.start(0.0, {"UDN02", "UDN04"})
    assert step.current == "UDN02" and step.skipped == ("UDN01",)
    step = ag.next(10.0, {"UDN02", "UDN04"})
    assert step.current == "UDN04" and step.skipped == ("UDN03",)
    assert ag.skipped == ["UDN01", "UDN03"]
    step = ag.next(20.0, set())
    assert step.done


def test_all_offline_is_done() -> None:
    step = _agenda().start(0.0, set())
    assert step.done and step.skipped == ("UDN01", "UDN02", "UDN03", "UDN04")


def test_pause_resume_freezes_time() -> None:
    ag = _agenda()
    ag.start(0.0, ALL)
    ag.pause(100.0)
    assert ag.remaining(100.0) == 20
    assert ag.remaining(500.0) == 20  # frozen while paused
    assert ag.tick(500.0, ALL) is None
    ag.resume(500.0)
    assert ag.remaining(510.0) == 10
    with pytest.raises(AgendaError, match="cannot resume"):
        ag.resume(510.0)
    step = ag.tick(520.0, ALL)
    assert step is not None and step.current == "UDN02"


def test_extend() -> None:
    ag = _agenda()
    ag.start(0.0, ALL)
    ag.extend(60)
    assert ag.remaining(0.0) == 180
    assert ag.tick(150.0, ALL) is None
    step = ag.tick(180.0, ALL)
    assert step is not None and step.current == "UDN02"
    assert ag.remaining(180.0) == 60  # extension was for the previous slot only
    with pytest.raises(AgendaError, match="extension"):
        ag.extend(0)


def test_jump() -> None:
    ag = _agenda()
    ag.start(0.0, ALL)
    step = ag.jump("UDN03", 5.0, ALL)
    assert (step.previous, step.current) == ("UDN01", "UDN03")
    assert ag.remaining(5.0) == 120
    step = ag.jump(1, 6.0, ALL)
    assert step.current == "UDN02"
    with pytest.raises(AgendaError, match="offline"):
        ag.jump("UDN04", 7.0, ALL - {"UDN04"})
    with pytest.raises(AgendaError, match="not on the agenda"):
        ag.jump("UDN09", 7.0, ALL)
    with pytest.raises(AgendaError, match="outside"):
        ag.jump(9, 7.0, ALL)


def test_errors_and_validation() -> None:
    with pytest.raises(AgendaError):
        Agenda([])
    with pytest.raises(AgendaError, match="5 s to 4 h"):
        AgendaItem("UDN01", 1)
    ag = _agenda()
    with pytest.raises(AgendaError, match="cannot pause"):
        ag.pause(0.0)
    with pytest.raises(AgendaError, match="nothing to extend"):
        ag.extend(10)
    ag.start(0.0, ALL)
    with pytest.raises(AgendaError, match="already running"):
        ag.start(0.0, ALL)


def test_uniform_and_round_trip() -> None:
    ag = Agenda.uniform(sorted(ALL), minutes=2)
    assert [i.duration_s for i in ag.items] == [120] * 4
    ag.start(50.0, ALL)
    ag.extend(30)
    ag.pause(60.0)
    again = Agenda.from_dict(ag.to_dict())
    assert again.to_dict() == ag.to_dict()
    assert again.remaining(999.0) == ag.remaining(999.0) == 140
