"""Evidence arithmetic without I/O: floor spans, time totals, the field digests verify relies on;
and the traffic log's connection rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from hub.evidence.clock import ClockState, read_clock_state
from hub.evidence.model import Span, changed_fields, field_digests, floor_spans, total_seconds
from hub.evidence.traffic import TrafficLog

T0 = datetime(2026, 4, 14, 2, 0, tzinfo=UTC)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def test_floor_spans_from_conference_events() -> None:
    events = [(at(0), "conference.floor.pending", "UDN02", "agent:UDN02"),
              (at(1), "conference.floor.granted", "UDN02", "operator:chair"),
              (at(31), "conference.floor.revoked", "UDN02", "operator:chair"),
              (at(40), "conference.floor.granted", "UDN03", "operator:chair"),
              (at(100), "conference.ended", "", "operator:chair")]
    spans = floor_spans(events, at(100))
    assert [(s.participant, s.start, s.end, s.closed) for s in spans] == [
        ("UDN02", at(1), at(31), "revoked"), ("UDN03", at(40), at(100), "ended")]
    assert total_seconds(spans, at(100)) == {"UDN02": 30.0, "UDN03": 60.0}


def test_overlapping_intervals_count_once() -> None:
    spans = [Span("UDN01", at(0), at(60)), Span("UDN01", at(30), at(90)), Span("UDN01", at(120), None)]
    assert total_seconds(spans, at(150)) == {"UDN01": 120.0}


def test_changed_fields_names_the_most_specific_path() -> None:
    doc = {"meeting": {"title": "ก"}, "polls": [{"id": 3, "counts": [1, 2], "question": "q"}],
           "audit": {"events": [{"seq": 9, "actor": "a"}]}}
    before = field_digests(doc)
    doc["polls"][0]["counts"] = [2, 1]
    doc["audit"]["events"][0]["actor"] = "mallory"
    assert changed_fields(before, field_digests(doc)) == ["audit.events[9]", "polls[3].counts"]


def test_clock_state_is_read_or_said_unknown() -> None:
    state = read_clock_state()
    assert state.source in ("timedatectl", "chronyc", "unknown")
    assert (state.synchronized is None) == (state.source == "unknown")


def test_traffic_log_opens_once_and_closes_with_reason(engine: sa.Engine) -> None:
    now = [at(0)]
    log = TrafficLog(engine, clock=lambda: now[0], clock_state=lambda: ClockState(True, "chronyc", "Normal"))
    first = log.joined(1, "UDN01", source_addr="10.41.1.10", client="salaklang-agent 0.1.0")
    now[0] = at(5)
    assert log.joined(1, "UDN01", source_addr="10.41.1.10", client="salaklang-agent 0.1.0") == first
    now[0] = at(65)
    assert log.left(1, "UDN01", reason="link_lost", quality={"loss_pct": 12.5})
    assert not log.left(1, "UDN01", reason="left")
    (row,) = log.rows(1)
    assert (row.joined_at, row.left_at, row.close_reason, row.clock_at_join, row.quality) == (
        at(0), at(65), "link_lost", "synchronized", {"loss_pct": 12.5})
