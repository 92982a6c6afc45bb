"""BFCP floor state machine: every legal transition and the illegal ones."""

from __future__ import annotations

import pytest

from hub.conferences.floor import Actor, Floor, FloorError, RequestStatus

CHAIR = Actor.of_chair("operator:somchai")
A = Actor.of_site("UDN01")
B = Actor.of_site("UDN02")
C = Actor.of_site("UDN03")


def test_iana_values() -> None:
    assert [(s.label, int(s)) for s in RequestStatus] == [
        ("Pending", 1), ("Accepted", 2), ("Granted", 3), ("Denied", 4),
        ("Cancelled", 5), ("Released", 6), ("Revoked", 7),
    ]
    assert {s for s in RequestStatus if s.final} == {
        RequestStatus.DENIED, RequestStatus.CANCELLED, RequestStatus.RELEASED, RequestStatus.REVOKED
    }


def test_request_accept_grant_release() -> None:
    floor = Floor()
    req, ev = floor.request("UDN01", A)
    assert req.status is RequestStatus.PENDING and req.queue_position == 0
    assert ev[0].old is None and ev[0].new is RequestStatus.PENDING
    ev = floor.accept(req.id, CHAIR)
    assert req.status is RequestStatus.ACCEPTED and req.queue_position == 1
    assert ev[0].queue_position == 1
    assert floor.holders() == []  # only Granted gives the floor
    floor.grant(req.id, CHAIR)
    assert req.status is RequestStatus.GRANTED and req.queue_position == 0
    assert floor.holders() == ["UDN01"]
    ev = floor.release(req.id, A)
    assert req.status is RequestStatus.RELEASED
    assert (ev[0].old, ev[0].new) == (RequestStatus.GRANTED, RequestStatus.RELEASED)
    assert floor.holders() == []


def test_grant_straight_from_pending() -> None:
    floor = Floor()
    req, _ = floor.request("UDN01", A)
    floor.grant(req.id, CHAIR)
    assert floor.holders() == ["UDN01"]


@pytest.mark.parametrize("accepted", [False, True])
def test_release_before_grant_is_cancelled(accepted: bool) -> None:
    floor = Floor()
    req, _ = floor.request("UDN01", A)
    if accepted:
        floor.accept(req.id, CHAIR)
    floor.release(req.id, A)
    assert req.status is RequestStatus.CANCELLED and req.queue_position == 0


@pytest.mark.parametrize("accepted", [False, True])
def test_deny(accepted: bool) -> None:
    floor = Floor()
    req, _ = floor.request("UDN01", A)
    if accepted:
        floor.accept(req.id, CHAIR)
    floor.deny(req.id, CHAIR)
    assert req.status is RequestStatus.DENIED and req.queue_position == 0


def test_revoke() -> None:
    floor = Floor()
    req, _ = floor.request("UDN01", A)
    floor.grant(req.id, CHAIR)
    floor.revoke(req.id, CHAIR)
    assert req.status is RequestStatus.REVOKED
    assert floor.holders() == []


@pytest.mark.parametrize("op", ["accept", "deny", "grant", "revoke"])
def test_only_chair_may(op: str) -> None:
    floor = Floor()
    req, _ = floor.request("UDN01", A)
    if op == "revoke":
        floor.grant(req.id, CHAIR)
    with pytest.raises(FloorError, match=f"only the chair may {op}"):
        getattr(floor, op)(req.id, A)  # a district granting (accepting…) itself
    with pytest.raises(FloorError, match="only the chair"):
        getattr(floor, op)(req.id, B)


def test_cannot_release_someone_elses_floor() -> None:
    floor = Floor()
    req, _ = floor.request("UDN01", A)
    floor.grant(req.id, CHAIR)
    with pytest.raises(FloorError, match="UDN02 cannot release"):
        floor.release(req.id, B)
    with pytest.raises(FloorError, match="only the requester releases"):
        floor.release(req.id, CHAIR)
    assert floor.holders() == ["UDN01"]


def test_cannot_request_for_another_site() -> None:
    floor = Floor()
    with pytest.raises(FloorError, match="on behalf"):
        floor.request("UDN02", A)
    req, _ = floor.request("UDN02", CHAIR)  # the chair may (third-party request)
    assert req.site == "UDN02"


@pytest.mark.parametrize(
    "final", [RequestStatus.DENIED, RequestStatus.CANCELLED, RequestStatus.RELEASED, RequestStatus.REVOKED]
)
def test_final_states_are_final(final: RequestStatus) -> None:
    floor = Floor()
    req, _ = floor.request("UDN01", A)
    if final is RequestStatus.DENIED:
        floor.deny(req.id, CHAIR)
    elif final is RequestStatus.CANCELLED:
        floor.release(req.id, A)
    else:
        floor.grant(req.id, CHAIR)
        if final is RequestStatus.RELEASED:
            floor.release(req.id, A)
        else:
            floor.revoke(req.id, CHAIR)
    assert req.status is final
    for op, actor in (("accept", CHAIR), ("deny", CHAIR), ("grant", CHAIR), ("revoke", CHAIR),
                      ("release", A)):
        with pytest.raises(FloorError, match=f"cannot {op}.*{final.label}"):
            getattr(floor, op)(req.id, actor)
    # a finished request does not block a new one
    again, _ = floor.request("UDN01", A)
    assert again.id != req.id


@pytest.mark.parametrize("op", ["accept", "revoke"])
def test_wrong_state(op: str) -> None:
    floor = Floor()
    req, _ = floor.request("UDN01", A)
    if op == "accept":
        floor.grant(req.id, CHAIR)  # granted cannot go back to Accepted
    with pytest.raises(FloorError, match=f"cannot {op}"):
        getattr(floor, op)(req.id, CHAIR)


def test_one_live_request_per_site_and_bad_priority() -> None:
    floor = Floor()
    floor.request("UDN01", A)
    with pytest.raises(FloorError, match="already has floor request"):
        floor.request("UDN01", A)
    with pytest.raises(FloorError, match="priority"):
        floor.request("UDN02", B, priority=5)
    with pytest.raises(FloorError, match="no floor request #99"):
        floor.grant(99, CHAIR)


def test_max_holders_one() -> None:
    floor = Floor(max_holders=1)
    a, _ = floor.request("UDN01", A)
    b, _ = floor.request("UDN02", B)
    floor.grant(a.id, CHAIR)
    with pytest.raises(FloorError, match="held by UDN01"):
        floor.grant(b.id, CHAIR)
    floor.release(a.id, A)
    floor.grant(b.id, CHAIR)
    assert floor.holders() == ["UDN02"]
    with pytest.raises(FloorError):
        Floor(max_holders=0)


def test_max_holders_two() -> None:
    floor = Floor(max_holders=2)
    for actor in (A, B):
        req, _ = floor.request(actor.name, actor)
        floor.grant(req.id, CHAIR)
    assert floor.holders() == ["UDN01", "UDN02"]
    c, _ = floor.request("UDN03", C)
    with pytest.raises(FloorError):
        floor.grant(c.id, CHAIR)


def test_queue_priority_then_arrival_and_positions() -> None:
    floor = Floor()
    low, _ = floor.request("UDN01", A, priority=1)
    mid1, _ = floor.request("UDN02", B, priority=2)
    high, _ = floor.request("UDN03", C, priority=4)
    mid2, _ = floor.request("UDN04", Actor.of_site("UDN04"), priority=2)
    for r in (low, mid1, high, mid2):
        floor.accept(r.id, CHAIR)
    assert [r.site for r in floor.queue()] == ["UDN03", "UDN02", "UDN04", "UDN01"]
    assert [r.queue_position for r in (high, mid1, mid2, low)] == [1, 2, 3, 4]
    # grant_next takes the head; everyone moves up and positions follow
    events = floor.grant_next(CHAIR)
    assert events[0].site == "UDN03" and events[0].new is RequestStatus.GRANTED
    assert high.queue_position == 0
    assert [r.queue_position for r in (mid1, mid2, low)] == [1, 2, 3]
    moved = {e.site: e.queue_position for e in events[1:]}
    assert moved == {"UDN02": 1, "UDN04": 2, "UDN01": 3}
    # a cancel from the middle renumbers the tail
    floor.release(mid2.id, Actor.of_site("UDN04"))
    assert (mid2.queue_position, low.queue_position) == (0, 2)
    # positions are non-zero only in Accepted
    for r in floor.requests.values():
        assert (r.queue_position != 0) == (r.status is RequestStatus.ACCEPTED)


def test_grant_next_empty_queue() -> None:
    assert Floor().grant_next(CHAIR) == []


def test_round_trip() -> None:
    floor = Floor()
    a, _ = floor.request("UDN01", A, priority=3)
    b, _ = floor.request("UDN02", B)
    floor.accept(b.id, CHAIR)
    floor.grant(a.id, CHAIR)
    again = Floor.from_dict(floor.to_dict())
    assert again.to_dict() == floor.to_dict()
    assert again.holders() == ["UDN01"]
    c, _ = again.request("UDN03", C)
    assert c.id == 3


def test_forget_finished_keeps_live() -> None:
    floor = Floor()
    for _ in range(5):
        r, _ = floor.request("UDN01", A)
        floor.release(r.id, A)
    live, _ = floor.request("UDN02", B)
    floor.forget_finished(keep=2)
    assert len(floor.requests) == 3 and live.id in floor.requests
