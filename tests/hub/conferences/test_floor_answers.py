"""What the hub tells a district about its own floor request (hub.conferences.signalling).

Every request is answered with one of: queued (with its place), granted, denied, released,
or no briefing running; these are the ConferenceState commands the tray shows.
"""

from __future__ import annotations

from hub.conferences import signalling
from hub.conferences.conference import Conference
from hub.conferences.floor import Actor
from site_agent import protocol as p

CHAIR = Actor.of_chair("operator")


def _conf() -> Conference:
    return Conference(id=9, title="t", province="UDN00", participants=["UDN00", "UDN01", "UDN02", "UDN03"])


def test_places_count_the_chairs_queue_then_the_unseen_requests() -> None:
    conf = _conf()
    a, _ = conf.floor.request("UDN01", Actor.of_site("UDN01"))
    b, _ = conf.floor.request("UDN02", Actor.of_site("UDN02"), priority=4)
    c, _ = conf.floor.request("UDN03", Actor.of_site("UDN03"))
    conf.accept(c.id, CHAIR)  # the chair's queue comes first, whatever the priorities of the rest
    views = {site: signalling.floor_view(conf, site) for site in ("UDN01", "UDN02", "UDN03", "UDN00")}
    assert views["UDN03"] == p.FloorView(status="queued", position=1, request_id=c.id)
    assert views["UDN02"] == p.FloorView(status="queued", position=2, request_id=b.id)  # priority 4
    assert views["UDN01"] == p.FloorView(status="queued", position=3, request_id=a.id)
    assert views["UDN00"] == p.FloorView(status="none")


def test_grant_deny_release_and_the_state_pushed_to_the_site() -> None:
    conf = _conf()
    a, _ = conf.floor.request("UDN01", Actor.of_site("UDN01"))
    b, _ = conf.floor.request("UDN02", Actor.of_site("UDN02"))
    conf.grant(a.id, CHAIR)
    conf.deny(b.id, CHAIR)
    state = signalling.conference_state(conf, "UDN01")
    assert (state.conference_id, state.holder, state.mic_open, state.floor.status) == (9, "UDN01", True, "granted")
    # A denied request is final, yet the district still sees the denial (its latest request).
    assert signalling.floor_view(conf, "UDN02").status == "denied"
    conf.release(a.id, Actor.of_site("UDN01"), now=0.0)
    assert signalling.floor_view(conf, "UDN01").status == "released"
    assert signalling.conference_state(conf, "UDN01").holder is None


def test_no_briefing_is_an_answer_too() -> None:
    answer = signalling.NO_BRIEFING
    assert answer.conference_id is None and answer.floor.status == "no_briefing"
    assert p.decode_from_hub(p.encode(p.Command.wrap(answer, sent_at=1.0)),
                             max_bytes=p.DEFAULT_MAX_FRAME_BYTES).command == answer  # type: ignore[union-attr]
