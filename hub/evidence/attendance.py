"""Where attendance and floor intervals come from: a reader protocol, and the interim reader.

The attendance room (``hub/attendance``, branch ``reports``) keeps every join/leave
and floor interval with its reason; it is not in this tree yet. The evidence
package reads through :class:`AttendanceReader` only, so the merge swaps
:class:`InterimAttendance` (joins/leaves from the traffic log, floor grants from
the conference's audit events) for that room's readers without touching the package.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

import sqlalchemy as sa

from hub import audit
from hub.db import session_scope
from hub.evidence import store
from hub.evidence.model import FloorSpan, Span, floor_spans


class AttendanceReader(Protocol):
    def presence(self, conference_id: int) -> list[Span]: ...

    def floor(self, conference_id: int, ended_at: datetime | None) -> list[FloorSpan]: ...


def _site(target: str) -> str:
    return target.split("/", 1)[1] if "/" in target else ""


def _at(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


class InterimAttendance:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def presence(self, conference_id: int) -> list[Span]:
        with session_scope(self.engine) as s:
            rows = store.traffic(s, conference_id)
        return [Span(r.participant, r.joined_at, r.left_at, "joined", r.close_reason or None) for r in rows]

    def floor(self, conference_id: int, ended_at: datetime | None) -> list[FloorSpan]:
        rows = audit.events_for(self.engine, f"conference:{conference_id}")
        events = [(_at(r.fields["at"]), r.fields["action"], _site(r.fields["target"]), r.fields["actor"])
                  for r in rows]
        return floor_spans(events, ended_at)
