"""Pure conference state: floor ↔ microphones ↔ layout, agenda, persistence."""

from __future__ import annotations

import json

import pytest

from hub.conferences.agenda import Agenda
from hub.conferences.conference import Conference, ConferenceError
from hub.conferences.floor import Actor, FloorError
from hub.conferences.layout import PROFILE_QHD, PROFILE_THUMB

CHAIR = Actor.of_chair("operator:somchai")
SITES = ["UDN00", "UDN01", "UDN02", "UDN03", "UDN04"]


def _conf() -> Conference:
    c = Conference(id=7, title="สรุปสถานการณ์", province="UDN00", participants=list(SITES))
    for s in SITES:
        c.set_online(s, True)
    return c


def _actions(events: list) -> list[tuple[str, str]]:
    return [(e.action, e.target) for e in events]


def test_initial_mics_and_audible() -> None:
    c = _conf()
    assert c.audible() == {"UDN00"}
    assert c.tiles()[0].site == "UDN00"


def test_grant_opens_mic_and_takes_large_tile() -> None:
    c = _conf()
    ev = c.request_floor("UDN02", Actor.of_site("UDN02"))
    assert _actions(ev) == [("floor.pending", "UDN02")]
    req = c.floor.live_request_of("UDN02")
    assert req is not None
    ev = c.accept(req.id, CHAIR)
    assert ev[0].detail["queue_position"] == 1
    ev = c.grant(req.id, CHAIR)
    assert _actions(ev) == [("floor.granted", "UDN02"), ("mic.opened", "UDN02")]
    assert c.audible() == {"UDN00", "UDN02"}
    assert c.tiles()[0].site == "UDN02" and c.tiles()[0].holder
    assert c.profiles()["UDN02"] == PROFILE_QHD  # 1+N: the large tile is 960×540
    assert c.profiles()["UDN00"] == PROFILE_THUMB
    ev = c.release(req.id, Actor.of_site("UDN02"))
    assert _actions(ev) == [("floor.released", "UDN02"), ("mic.closed", "UDN02")]
    assert c.audible() == {"UDN00"}


def test_give_floor_revokes_previous_holder() -> None:
    c = _conf()
    c.give_floor("UDN01", CHAIR)
    ev = c.give_floor("UDN03", CHAIR)
    assert ("floor.revoked", "UDN01") in _actions(ev)
    assert ("mic.closed", "UDN01") in _actions(ev)
    assert ("floor.granted", "UDN03") in _actions(ev)
    assert c.holders() == ["UDN03"]
    with pytest.raises(FloorError, match="only the chair"):
        c.give_floor("UDN02", Actor.of_site("UDN02"))
    assert c.take_floor(CHAIR)[0].action == "floor.revoked"
    assert c.take_floor(CHAIR) == []


def test_mute_unmute_all_and_lecture() -> None:
    c = _conf()
    c.give_floor("UDN01", CHAIR)
    c.unmute_all("operator:x")
    assert c.audible() == set(SITES)
    c.set_lecture(True, "operator:x")
    assert c.audible() == {"UDN00", "UDN01"}  # only the province and the holder
    c.set_lecture(False, "operator:x")
    ev = c.mute_all("operator:x")
    assert {e.target for e in ev} == {"UDN02", "UDN03", "UDN04"}
    assert c.audible() == {"UDN00", "UDN01"}
    c.mute("UDN00", "operator:x")
    assert c.audible() == {"UDN01"}
    assert c.unmute("UDN02", "operator:x")[0].action == "mic.opened"
    with pytest.raises(ConferenceError, match="not in conference"):
        c.mute("UDN99", "operator:x")


def test_voice_switching() -> None:
    c = _conf()
    c.unmute("UDN03", "op")
    assert c.loudest("UDN03") == []  # mode off: remembered, no change
    c.set_voice_switching(True, "op")
    c.active_speaker = None
    assert _actions(c.loudest("UDN03")) == [("conference.active_speaker", "UDN03")]
    assert c.tiles()[0].site == "UDN03"
    assert c.loudest("UDN04") == []  # muted sites do not switch the picture
    c.give_floor("UDN01", CHAIR)
    assert c.tiles()[0].site == "UDN01"  # the floor wins over voice


def test_layout_change() -> None:
    c = _conf()
    assert _actions(c.set_layout("2x2", "op")) == [("conference.layout", "")]
    assert c.set_layout("2x2", "op") == []
    with pytest.raises(ConferenceError, match="unknown layout"):
        c.set_layout("9x9", "op")


def test_agenda_moves_floor_mic_and_tile() -> None:
    c = _conf()
    c.set_online("UDN02", False)
    c.set_agenda(Agenda.uniform(["UDN01", "UDN02", "UDN03"], minutes=2), "op")
    ev = c.agenda_start(0.0, "op")
    assert c.holder() == "UDN01" and "UDN01" in c.audible()
    assert c.tiles()[0].site == "UDN01"
    assert ("agenda.speaker", "UDN01") in _actions(ev)
    assert c.agenda_tick(60.0) == []
    ev = c.agenda_tick(120.0)
    acts = _actions(ev)
    assert ("floor.revoked", "UDN01") in acts and ("mic.closed", "UDN01") in acts
    assert ("agenda.skipped", "UDN02") in acts  # offline
    assert c.holder() == "UDN03" and c.audible() == {"UDN00", "UDN03"}
    # the district releases early: the next (none left) follows
    req = c.floor.live_request_of("UDN03")
    assert req is not None
    ev = c.release(req.id, Actor.of_site("UDN03"), now=130.0)
    assert ("agenda.done", "") in _actions(ev)
    assert c.holder() is None


def test_agenda_pause_extend_jump() -> None:
    c = _conf()
    c.set_agenda(Agenda.uniform(["UDN01", "UDN02", "UDN03"], minutes=1), "op")
    c.agenda_start(0.0, "op")
    c.agenda_pause(10.0, "op")
    assert c.agenda_tick(1000.0) == []
    c.agenda_resume(1000.0, "op")
    c.agenda_extend(30, "op")
    assert c.agenda is not None and c.agenda.remaining(1000.0) == 80
    c.agenda_jump("UDN03", 1001.0, "op")
    assert c.holder() == "UDN03"
    c.agenda_stop(1002.0, "op")
    assert c.holder() is None
    with pytest.raises(ConferenceError, match="UDN09 is not in"):
        c.set_agenda(Agenda.uniform(["UDN09"], 1), "op")


def test_json_round_trip_resumes_everything() -> None:
    c = _conf()
    c.set_layout("3x3", "op")
    c.request_floor("UDN04", Actor.of_site("UDN04"), priority=3)
    c.set_lecture(True, "op")
    c.set_agenda(Agenda.uniform(["UDN01", "UDN02"], minutes=2), "op")
    c.agenda_start(100.0, "op")
    c.extend(30, now=100.0, actor="op")
    raw = json.loads(json.dumps(c.to_dict()))
    again = Conference.from_dict(raw)
    assert again.to_dict() == c.to_dict()
    assert again.holder() == "UDN01" and again.layout == "3x3"
    assert again.agenda is not None and again.agenda.remaining(160.0) == 60
    with pytest.raises(ConferenceError, match="unreadable"):
        Conference.from_dict({"id": 1})


def test_remove_site_and_end() -> None:
    c = _conf()
    c.give_floor("UDN02", CHAIR)
    ev = c.remove_site("UDN02", "op")
    assert ("floor.revoked", "UDN02") in _actions(ev)
    assert "UDN02" not in c.participants and c.holder() is None
    assert c.add_site("UDN02", "op")[0].action == "conference.site_added"
    c.end("op")
    with pytest.raises(ConferenceError, match="ended"):
        c.set_layout("2x2", "op")
    with pytest.raises(ConferenceError):
        Conference(id=1, title="x", province="UDN00", participants=[])


def test_parse_agenda_forms_and_strictness() -> None:
    from hub.conferences.manager import parse_agenda

    ag = parse_agenda([{"site": "UDN01", "minutes": 2}, {"code": "UDN02", "seconds": 90},
                       {"site": "UDN03", "duration_s": 30}, {"title": "สรุป"}], SITES)
    assert ag is not None
    assert [(i.site, i.duration_s) for i in ag.items] == [("UDN01", 120), ("UDN02", 90), ("UDN03", 30)]
    with pytest.raises(ConferenceError, match="UDN99"):
        parse_agenda([{"site": "UDN99"}], SITES)
    lenient = parse_agenda([{"site": "UDN99"}, {"site": "UDN01"}], SITES, strict=False)
    assert lenient is not None and [i.site for i in lenient.items] == ["UDN01"]
    assert parse_agenda([{"title": "เปิดประชุม"}], SITES) is None
