"""Evidence arithmetic without I/O: pairing traffic-log connections with attendance intervals, time
totals, the field digests verify relies on; and the traffic log's connection rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from hub.evidence.clock import ClockState, read_clock_state
from hub.evidence.model import (
    Connection,
    Span,
    changed_fields,
    field_digests,
    pair_connections,
    total_seconds,
)
from hub.evidence.traffic import TrafficLog

T0 = datetime(2026, 4, 14, 2, 0, tzinfo=UTC)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def test_each_interval_gets_the_connection_it_happened_on() -> None:
    spans = [Span("UDN01", at(2), at(40)),  # first connection
             Span("UDN01", at(45), at(60)),  # a media rejoin on the same control connection
             Span("UDN01", at(125), None),  # back after the link dropped: the second connection, still open
             Span("UDN02", at(3), at(30)),
             Span("UDN03", at(0), at(10))]  # nothing logged for it
    conns = [Connection(1, "UDN01", at(0), at(61)), Connection(2, "UDN01", at(120), None),
             Connection(3, "UDN02", at(1), at(31)), Connection(4, "UDN02", at(29), at(90))]
    assert pair_connections(spans, conns, at(200)) == [1, 1, 2, 3, None]


def test_a_zero_length_interval_still_finds_its_connection() -> None:
    assert pair_connections([Span("UDN04", at(10), at(10))], [Connection(7, "UDN04", at(0), at(10))], at(20)) == [7]


def test_overlapping_intervals_count_once() -> None:
    spans = [Span("UDN01", at(0), at(60)), Span("UDN01", at(30), at(90)), Span("UDN01", at(120), None)]
    assert total_seconds(spans, at(150)) == {"UDN01": 120.0}


def test_changed_fields_names_the_most_specific_path() -> None:
    doc: dict[str, Any] = {"meeting": {"title": "ก"}, "polls": [{"id": 3, "counts": [1, 2], "question": "q"}],
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
