"""The poll model: terms, refusals and the tally, without I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.polls.model import (
    Ballot,
    Poll,
    PollRefused,
    PollSpec,
    Refusal,
    Unit,
    Voter,
    check_vote,
    tally,
)

T0 = datetime(2026, 4, 12, 2, 0, tzinfo=UTC)
ROSTER = {"UDN01", "UDN02", "guest:1"}


def _poll(**kw: object) -> Poll:
    spec = PollSpec("เห็นชอบมาตรการตั้งด่านชุมชนหรือไม่", ("เห็นชอบ", "ไม่เห็นชอบ", "งดออกเสียง"),
                    closes_at=T0 + timedelta(minutes=5), **kw)  # type: ignore[arg-type]
    return Poll(1, 7, spec.checked(T0), "operator:chair", T0)


def test_spec_is_checked() -> None:
    for spec, why in [(PollSpec(" ", ("a", "b")), "question"), (PollSpec("q", ("a",)), "2–"),
                      (PollSpec("q", ("a", "a")), "distinct"),
                      (PollSpec("q", ("a", "b"), closes_at=T0 - timedelta(seconds=1)), "past")]:
        with pytest.raises(PollRefused) as exc:
            spec.checked(T0)
        assert exc.value.reason is Refusal.BAD_POLL and why in str(exc.value)


@pytest.mark.parametrize(("poll", "voter", "option", "voted", "at", "reason"), [
    (None, Voter("UDN01"), 0, False, T0, Refusal.UNKNOWN_POLL),
    ("site", Voter("UDN17"), 0, False, T0, Refusal.NOT_IN_BRIEFING),
    ("site", Voter("UDN01"), 0, False, T0 + timedelta(minutes=5), Refusal.CLOSED),
    ("site", Voter("UDN01"), 3, False, T0, Refusal.BAD_OPTION),
    ("site", Voter("UDN01"), 0, True, T0, Refusal.DOUBLE_VOTE),
    ("person", Voter("UDN01"), 0, False, T0, Refusal.PERSON_REQUIRED),
    ("person", Voter("UDN01", "นายปลอม"), 0, False, T0, Refusal.NOT_IDENTIFIED),
])
def test_refusals(poll: str | None, voter: Voter, option: int, voted: bool, at: datetime, reason: Refusal) -> None:
    p = None if poll is None else _poll(unit=Unit.PERSON if poll == "person" else Unit.SITE)
    with pytest.raises(PollRefused) as exc:
        check_vote(p, voter, option, roster=ROSTER, identified={"นายสมชาย"}, already_voted=voted, now=at)
    assert exc.value.reason is reason
    th, en = exc.value.message_th, exc.value.message_en
    assert th and en and any("\u0e00" <= c <= "\u0e7f" for c in th)


def test_accepted_votes_are_keyed_per_site_or_per_person() -> None:
    assert check_vote(_poll(), Voter("UDN01"), 1, roster=ROSTER, identified=set(), already_voted=False,
                      now=T0) == "UDN01"
    per_person = _poll(unit=Unit.PERSON, ballot=Ballot.SECRET)
    assert check_vote(per_person, Voter("UDN01", "นายสมชาย"), 0, roster=ROSTER, identified={"นายสมชาย"},
                      already_voted=False, now=T0) == "UDN01/นายสมชาย"


def test_manual_close_and_tally() -> None:
    p = _poll()
    closed = Poll(p.id, p.conference_id, p.spec, p.created_by, p.created_at, closed_at=T0 + timedelta(minutes=1))
    assert p.is_open(T0) and not closed.is_open(T0 + timedelta(minutes=2))
    assert closed.ended_at(T0 + timedelta(minutes=9)) == T0 + timedelta(minutes=1)
    r = tally(p.spec.options, [3, 3, 1], 7)
    assert r.total == 7 and r.leaders == (0, 1) and r.shares() == (42.9, 42.9, 14.3)
    assert tally(("a", "b"), [0, 0], 0).leaders == ()
